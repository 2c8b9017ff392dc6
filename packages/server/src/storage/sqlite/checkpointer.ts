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
    if (!truncated && idle >= workerData.idleTicks) truncated = truncate();
    else db.pragma('wal_checkpoint(PASSIVE)');
  } catch { /* busy or closing: next time */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'truncate') {
    let ok = false;
    try { ok = truncate(); } catch { ok = false; }
    parentPort.postMessage({ truncated: ok });
  }
  if (m === 'stop') { clearInterval(timer); try { db.close(); } catch {} parentPort.postMessage('stopped'); }
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
  private readonly worker: Worker;

  constructor(path: string, options: SqliteCheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, ...options } });
    this.worker.unref();
  }

  /** Runs a TRUNCATE checkpoint on the worker now; false when a reader or writer kept it from completing. */
  truncate(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        this.worker.off('message', onMessage);
        this.worker.off('exit', onExit);
        resolve(ok);
      };
      const onMessage = (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'truncated' in m) done((m as { truncated: unknown }).truncated === true);
      };
      const onExit = () => done(false);
      this.worker.on('message', onMessage);
      this.worker.on('exit', onExit);
      this.worker.postMessage('truncate');
    });
  }

  async stop(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => resolve());
      this.worker.once('error', () => resolve());
    });
    this.worker.postMessage('stop');
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000))]);
    await this.worker.terminate();
  }
}
