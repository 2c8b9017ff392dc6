import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Copies the write-ahead log back into the database file on a worker thread,
 * with its own connection. SQLite's automatic checkpoint would otherwise run
 * inside a commit on the event loop and stall every connection for
 * milliseconds.
 *
 * Every tick runs a PASSIVE checkpoint, which never blocks writers. The WAL is
 * reused from its start once fully copied, but not shrunk, so it keeps older
 * page images (ciphertext of messages already deleted) until they are
 * overwritten: when no other connection has committed for `idleTicks` ticks,
 * the worker runs one TRUNCATE checkpoint, which empties the file (size 0).
 * Writers are idle then, so the lock it takes costs nobody anything. While
 * writes go on, `journal_size_limit` (set on every connection) cuts the WAL
 * back to a bound whenever it is reset.
 *
 * The worker runs only while there is something to checkpoint: a thread with
 * its own V8 isolate and SQLite connection costs some 20 MB of memory. It is
 * started by the first commit (`wrote()`), and once its idle TRUNCATE has
 * succeeded it says so and is stopped; the next commit starts it again. A
 * commit that lands between that TRUNCATE and the stop is seen by the worker
 * (PRAGMA data_version) and starts a new one.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
// Changes whenever another connection commits (our own checkpoints do not count).
const dataVersion = db.prepare('PRAGMA data_version').pluck();
let seen = dataVersion.get();
let idle = 0;
let truncated = false;
function truncate() {
  const [r] = db.pragma('wal_checkpoint(TRUNCATE)');
  return r && r.busy === 0;
}
const timer = setInterval(() => {
  try {
    const v = dataVersion.get();
    if (v !== seen) { seen = v; idle = 0; truncated = false; } else idle++;
    if (!truncated && idle >= workerData.idleTicks) {
      truncated = truncate();
      if (truncated) parentPort.postMessage('idle');
    } else db.pragma('wal_checkpoint(PASSIVE)');
  } catch { /* busy or closing: next time */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'truncate') {
    let ok = false;
    try { ok = truncate(); } catch { ok = false; }
    parentPort.postMessage({ truncated: ok });
  }
  if (m === 'stop') {
    clearInterval(timer);
    // A commit since our last look: the WAL is not empty, and whoever stops us starts another.
    let dirty = true;
    try { dirty = dataVersion.get() !== seen || !truncated; } catch {}
    try { db.close(); } catch {}
    parentPort.postMessage({ stopped: true, dirty });
  }
});
`;

export interface SqliteCheckpointerOptions {
  /** How often to checkpoint. */
  intervalMs: number;
  /** Ticks without a commit by another connection after which the WAL is truncated (once, until the next commit). */
  idleTicks: number;
  /** Bytes the WAL is cut back to when it is reset (PRAGMA journal_size_limit). */
  journalSizeLimit: number;
}

export class SqliteCheckpointer {
  private worker: Worker | undefined;
  /** Set while a worker is being stopped; settles once it has exited. */
  private stopping: Promise<void> | undefined;
  /** A commit arrived while the worker was being stopped (for idleness): start another afterwards. */
  private wroteWhileStopping = false;
  private closed = false;
  private failed = false;
  private readonly driver: string;

  /**
   * @param truncateHere runs a TRUNCATE checkpoint on the caller's own
   *   connection, for `truncate()` while no worker runs (writers are idle then).
   */
  constructor(
    private readonly path: string,
    private readonly options: SqliteCheckpointerOptions,
    readonly truncateHere: () => boolean,
  ) {
    this.driver = createRequire(import.meta.url).resolve('better-sqlite3');
    // A WAL left with pages in it (a crash, another process) is checkpointed from the start.
    try {
      if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) this.start();
    } catch {
      this.start();
    }
  }

  /** Whether a worker thread exists now, running or being stopped (for tests and metrics). */
  get running(): boolean {
    return this.worker !== undefined || this.stopping !== undefined;
  }

  /** Called after each commit on the main connection: makes sure a worker will checkpoint it. */
  wrote(): void {
    if (this.closed || this.failed || this.worker !== undefined) return;
    if (this.stopping) this.wroteWhileStopping = true;
    else this.start();
  }

  private start(): void {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.path, driver: this.driver, ...this.options },
    });
    worker.unref();
    worker.on('message', (m: unknown) => {
      if (m === 'idle' && this.worker === worker) void this.stopWorker(false);
    });
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    // One that failed (the file went away, say) is not restarted on every commit; truncate() then runs on the caller's connection.
    worker.on('error', () => {
      this.failed = true;
    });
    this.worker = worker;
  }

  /** Stops the running worker; restarts one if commits arrived that it did not truncate (unless `final`). */
  private stopWorker(final: boolean): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return this.stopping ?? Promise.resolve();
    this.worker = undefined;
    this.wroteWhileStopping = false;
    const stopping = this.stopNow(worker, final);
    this.stopping = stopping;
    return stopping;
  }

  private async stopNow(worker: Worker, final: boolean): Promise<void> {
    let dirty = true;
    const stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'stopped' in m) {
          dirty = (m as { dirty?: unknown }).dirty !== false;
          resolve();
        }
      });
      worker.once('exit', () => resolve());
    });
    worker.postMessage('stop');
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000).unref())]);
    await worker.terminate();
    // Only one worker exists at a time, so this is the stop in progress.
    this.stopping = undefined;
    const restart = !final && !this.closed && !this.failed && (dirty || this.wroteWhileStopping);
    this.wroteWhileStopping = false;
    if (restart) this.start();
  }

  /**
   * Runs a TRUNCATE checkpoint now: on the worker when one runs, otherwise on
   * the caller's connection; false when a reader or writer kept it from completing.
   */
  async truncate(): Promise<boolean> {
    if (this.stopping) await this.stopping;
    const worker = this.worker;
    if (worker === undefined) return this.truncateHere();
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(ok);
      };
      const onMessage = (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'truncated' in m) done((m as { truncated: unknown }).truncated === true);
      };
      const onExit = () => done(false);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage('truncate');
    });
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.stopping) await this.stopping;
    await this.stopWorker(true);
  }
}
