/**
 * Token buckets kept in memory only (never written to storage), keyed by an
 * opaque string such as "auth:<username>" or "http:<userId>". Idle buckets
 * are dropped, and the number of buckets is capped: past `maxKeys` the oldest
 * are evicted (a fresh bucket is full, so eviction only ever errs towards
 * letting a request through), so no stream of distinct keys grows memory
 * without bound.
 */
interface Bucket {
  tokens: number;
  updated: number;
}

export const DEFAULT_MAX_KEYS = 100_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastPrune = 0;
  /** Told the key of every refusal (metrics count them by the key's prefix only). */
  onRefused: ((key: string) => void) | undefined;

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly maxKeys = DEFAULT_MAX_KEYS,
  ) {}

  /** Takes one token from `key`'s bucket (capacity `burst`, refilled at `perSecond`); false when empty. */
  take(key: string, perSecond: number, burst: number): boolean {
    return this.takeN(key, 1, perSecond, burst);
  }

  /** Takes `n` tokens at once, or none (false) when fewer are left. */
  takeN(key: string, n: number, perSecond: number, burst: number): boolean {
    const b = this.bucket(key, perSecond, burst);
    if (b.tokens < n) {
      this.onRefused?.(key);
      return false;
    }
    b.tokens -= n;
    return true;
  }

  /** True when `key` has at least one token left, without taking it. */
  peek(key: string, perSecond: number, burst: number): boolean {
    const existing = this.buckets.get(key);
    if (!existing) return true;
    if (this.bucket(key, perSecond, burst).tokens >= 1) return true;
    this.onRefused?.(key);
    return false;
  }

  /** Gives back `n` tokens taken earlier and not used (never above `burst`). */
  refund(key: string, n: number, burst: number): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(burst, b.tokens + n);
  }

  private bucket(key: string, perSecond: number, burst: number): Bucket {
    const t = this.now();
    this.prune(t);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: burst, updated: t };
      this.buckets.set(key, b);
      this.evict();
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.updated) / 1000) * perSecond);
      b.updated = t;
    }
    return b;
  }

  private prune(t: number): void {
    if (t - this.lastPrune < 60_000) return;
    this.lastPrune = t;
    for (const [k, b] of this.buckets) if (t - b.updated > 600_000) this.buckets.delete(k);
  }

  private evict(): void {
    if (this.buckets.size <= this.maxKeys) return;
    // Maps iterate in insertion order: the first keys are the oldest buckets.
    let excess = this.buckets.size - this.maxKeys;
    for (const k of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(k);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
