/**
 * Token buckets kept in memory only (never written to storage), keyed by an
 * opaque string such as "login:<username>" or "http:<userId>". Idle buckets
 * are dropped so the map cannot grow without bound.
 */
interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastPrune = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Takes one token from `key`'s bucket (capacity `burst`, refilled at `perSecond`); false when empty. */
  take(key: string, perSecond: number, burst: number): boolean {
    const t = this.now();
    this.prune(t);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: burst, updated: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.updated) / 1000) * perSecond);
      b.updated = t;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(t: number): void {
    if (t - this.lastPrune < 60_000) return;
    this.lastPrune = t;
    for (const [k, b] of this.buckets) if (t - b.updated > 600_000) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
