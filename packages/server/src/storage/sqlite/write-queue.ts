import type Database from 'better-sqlite3';

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects the writes of one event-loop tick and commits them in a single
 * transaction (one fsync instead of many). Each write runs in its own
 * savepoint, so a write that throws (say, an epoch conflict) is rolled back
 * alone and its caller gets the error; the others still commit. Callers are
 * resolved only after the commit, so an acknowledged write is durable.
 */
export class SqliteWriteQueue {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  private readonly savepoint: (fn: () => unknown) => unknown;
  private readonly outer: (batch: Pending[]) => Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;

  constructor(private readonly db: Database.Database) {
    // A better-sqlite3 transaction called inside another becomes a savepoint.
    this.savepoint = db.transaction((fn: () => unknown) => fn());
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
    let results: ReturnType<typeof this.outer>;
    try {
      results = this.outer(batch);
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    batch.forEach((op, i) => {
      const r = results[i];
      if (r === undefined) op.reject(new Error('write result missing'));
      else if (r.ok) op.resolve(r.value);
      else op.reject(r.error);
    });
  }

  /** Commits whatever is queued now; used on shutdown. */
  async drain(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.queue.length > 0) this.flush();
  }
}
