import type Database from 'better-sqlite3';
import type { WriteObserver } from '../storage.js';

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What the storage on top of the queue is told (it keeps caches that must follow the database). */
export interface WriteQueueHooks {
  /** Runs before each batch, outside its transaction. */
  beforeBatch?: () => void;
  /** Runs when a batch, or one write in it, was rolled back. */
  rolledBack?: () => void;
  /** Runs after each batch, committed or not (the checkpointer starts on it). */
  afterBatch?: () => void;
}

/**
 * Collects the writes of one event-loop tick and commits them in a single
 * transaction (one commit instead of many). Callers are resolved only after
 * the commit, so an acknowledged write is durable.
 *
 * Fast path: the batch runs as is. If any write throws (say, an epoch
 * conflict), the whole transaction is rolled back and the batch runs again
 * with each write in its own savepoint, so the failing write is undone alone
 * and the others commit. Writes are functions of the database state, so
 * running them again gives the same outcome.
 */
export class SqliteWriteQueue {
  private queue: Pending[] = [];
  private scheduled = false;
  /** Told how long each batch took (metrics); unset, nothing is timed. */
  observer: WriteObserver | undefined;
  private readonly savepoint: (fn: () => unknown) => unknown;
  private readonly outer: (batch: Pending[]) => Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;
  private readonly fast: (batch: Pending[]) => unknown[];

  constructor(
    private readonly db: Database.Database,
    private readonly hooks: WriteQueueHooks = {},
  ) {
    // A better-sqlite3 transaction called inside another becomes a savepoint.
    this.savepoint = db.transaction((fn: () => unknown) => fn());
    this.fast = db.transaction((batch: Pending[]) => batch.map((op) => op.fn()));
    this.outer = db.transaction((batch: Pending[]) =>
      batch.map((op) => {
        try {
          return { ok: true as const, value: this.savepoint(op.fn) };
        } catch (error) {
          return { ok: false as const, error };
        }
      }),
    );
  }

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const started = this.observer === undefined ? 0 : performance.now();
    let results: ReturnType<typeof this.outer>;
    try {
      this.hooks.beforeBatch?.();
      results = this.fast(batch).map((value) => ({ ok: true as const, value }));
    } catch {
      results = [];
    }
    try {
      if (results.length !== batch.length) {
        this.hooks.rolledBack?.();
        results = this.outer(batch);
        if (results.some((r) => !r.ok)) this.hooks.rolledBack?.();
      }
    } catch (error) {
      this.hooks.rolledBack?.();
      this.hooks.afterBatch?.();
      this.observer?.((performance.now() - started) / 1000, batch.length, true);
      for (const op of batch) op.reject(error);
      return;
    }
    this.hooks.afterBatch?.();
    this.observer?.((performance.now() - started) / 1000, batch.length, false);
    batch.forEach((op, i) => {
      const r = results[i];
      if (r === undefined) op.reject(new Error('write result missing'));
      else if (r.ok) op.resolve(r.value);
      else op.reject(r.error);
    });
  }

  /** Commits whatever is queued now; used on shutdown. */
  async drain(): Promise<void> {
    if (this.queue.length > 0) this.flush();
  }
}
