/**
 * Collects calls made during one event-loop turn and hands them to `run` as
 * one batch (one database round trip). Each caller gets its own result or
 * error; if the batch as a whole fails, every caller gets that error.
 *
 * With `maxInFlight`, at most that many batches run at once; calls made
 * meanwhile wait and leave together when one finishes (group commit). Under
 * load, batches then grow instead of queueing one small transaction after
 * another on the same rows.
 */
export class Batcher<I, O> {
  private queue: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly run: (inputs: I[]) => Promise<Array<{ ok: true; value: O } | { ok: false; error: unknown }>>,
    private readonly maxBatch = 500,
    private readonly maxInFlight = Number.POSITIVE_INFINITY,
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
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
      this.inFlight++;
      this.run(batch.map((b) => b.input))
        .then(
          (results) => {
            batch.forEach((b, i) => {
              const r = results[i];
              if (!r) b.reject(new Error('storage: batch result missing'));
              else if (r.ok) b.resolve(r.value);
              else b.reject(r.error);
            });
          },
          (error: unknown) => {
            for (const b of batch) b.reject(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          // What waited for a free slot leaves now, together.
          if (this.queue.length > 0 && !this.scheduled) {
            this.scheduled = true;
            setImmediate(() => this.flush());
          }
        });
    }
  }
}
