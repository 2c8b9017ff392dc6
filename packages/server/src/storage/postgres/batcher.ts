import type { WriteObserver } from '../storage.js';

/**
 * Collects calls made during one event-loop turn and hands them to `run` as
 * one batch (one database round trip). Each caller gets its own result or
 * error; if the batch as a whole fails, every caller gets that error.
 */
export class Batcher<I, O> {
  private queue: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  /** Told how long each batch took (metrics); unset, nothing is timed. */
  observer: WriteObserver | undefined;

  constructor(
    private readonly run: (inputs: I[]) => Promise<Array<{ ok: true; value: O } | { ok: false; error: unknown }>>,
    private readonly maxBatch = 500,
  ) {}

  push(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.maxBatch) {
        this.flush();
      } else if (!this.scheduled) {
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
    this.run(batch.map((b) => b.input)).then(
      (results) => {
        this.observer?.((performance.now() - started) / 1000, batch.length, false);
        batch.forEach((b, i) => {
          const r = results[i];
          if (!r) b.reject(new Error('storage: batch result missing'));
          else if (r.ok) b.resolve(r.value);
          else b.reject(r.error);
        });
      },
      (error: unknown) => {
        this.observer?.((performance.now() - started) / 1000, batch.length, true);
        for (const b of batch) b.reject(error);
      },
    );
  }
}
