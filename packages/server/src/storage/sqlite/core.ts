import Database from 'better-sqlite3';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { SqliteCheckpointer } from './checkpointer.js';
import { num, str, type Row } from './rows.js';
import { SqliteWriteQueue } from './write-queue.js';

export interface SqliteStorageOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** Checkpoint the WAL on a worker thread (default) instead of inside commits. */
  checkpointInWorker?: boolean;
  /**
   * PRAGMA synchronous. 'full' (default): each commit is on disk (fsync of the
   * WAL) before the writers of its batch are answered, so nothing acknowledged
   * is lost even to a power failure. 'normal': a commit is in the operating
   * system's cache when it returns; a power failure or kernel crash can lose
   * the last moments of writes (a crash of the process alone cannot).
   */
  synchronous?: SqliteSynchronous;
  /** Checkpoint every this many ms (default 1000). */
  checkpointIntervalMs?: number;
  /** Truncate the WAL after this many checkpoint ticks without a commit (default 10). */
  walIdleTicks?: number;
}

export type SqliteSynchronous = 'full' | 'normal';

/**
 * Bytes the WAL file is cut back to whenever it is reset after a full
 * checkpoint (PRAGMA journal_size_limit): what it can keep of older pages
 * while writes never stop. When they do, it is truncated to nothing.
 */
export const WAL_SIZE_LIMIT = 1024 * 1024;

/**
 * What every part of the SQLite adapter shares: the connection, its prepared
 * statements, the write queue, and what is remembered between writes.
 */
export class SqliteCore {
  readonly db: Database.Database;
  readonly writes: SqliteWriteQueue;
  readonly checkpointer: SqliteCheckpointer | undefined;

  private readonly statements = new Map<string, Database.Statement>();
  private readonly plucked = new Map<string, Database.Statement>();
  /**
   * Current member devices per group, as read inside write batches (every
   * message append needs them). Dropped when this process changes a group's
   * membership, after any rollback, and when another connection has committed
   * (PRAGMA data_version), so it never outlives what it was read from.
   */
  private readonly members = new Map<GroupId, { list: DeviceId[]; set: ReadonlySet<DeviceId> }>();
  /**
   * Pending Welcomes as `device group` → seq, loaded on first use and kept like
   * `members`, so an acknowledgement only touches the welcome tables when
   * there is a Welcome to drop (almost never).
   */
  private welcomeSeqs: Map<string, number> | undefined;
  /**
   * Each account's total queue charge, as read inside write batches (every
   * append with a quota checks it), kept like `members`; an account whose
   * charges a trim scaled is dropped from it.
   */
  readonly queueTotals = new Map<UserId, number>();
  private readonly dataVersion: Database.Statement;
  private seenDataVersion: unknown;

  constructor(options: SqliteStorageOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${(options.synchronous ?? 'full') === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    if (options.path !== ':memory:' && options.checkpointInWorker !== false) {
      // Checkpoints run on a worker thread (see checkpointer.ts), not inside our commits.
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new SqliteCheckpointer(options.path, {
        intervalMs: options.checkpointIntervalMs ?? 1000,
        idleTicks: options.walIdleTicks ?? 10,
        journalSizeLimit: WAL_SIZE_LIMIT,
      }, () => {
        // No worker runs, so nothing was written since its idle TRUNCATE: this is quick.
        const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
        return r?.busy === 0;
      });
    }
    // Freed pages are zeroed so deleted ciphertext does not linger in the file.
    this.db.pragma('secure_delete = ON');
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.seenDataVersion = this.dataVersion.get();
    this.writes = new SqliteWriteQueue(this.db, {
      beforeBatch: () => {
        // Another connection (the admin CLI, say) committed: what we remember may be stale.
        const v = this.dataVersion.get();
        if (v !== this.seenDataVersion) {
          this.seenDataVersion = v;
          this.forget();
        }
      },
      rolledBack: () => this.forget(),
      // The worker thread runs only while there is WAL to checkpoint (see checkpointer.ts).
      ...(this.checkpointer ? { afterBatch: () => this.checkpointer?.wrote() } : {}),
    });
  }

  /** Prepared statements are compiled once and reused: preparing costs more than most of our queries. */
  q(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** As `q`, returning the first column's value instead of row objects. */
  pluck(sql: string): Database.Statement {
    let st = this.plucked.get(sql);
    if (!st) {
      st = this.db.prepare(sql).pluck();
      this.plucked.set(sql, st);
    }
    return st;
  }

  /** Drops everything remembered from the database. */
  forget(): void {
    this.members.clear();
    this.welcomeSeqs = undefined;
    this.queueTotals.clear();
  }

  /** The group's membership changed in this batch. */
  forgetMembers(groupId?: GroupId): void {
    if (groupId === undefined) this.members.clear();
    else this.members.delete(groupId);
  }

  forgetWelcomes(): void {
    this.welcomeSeqs = undefined;
  }

  /** Current members (devices that are leaving still have a cursor but are not members). */
  groupDevicesSync(id: GroupId): DeviceId[] {
    return (this.q('SELECT device_id FROM group_devices WHERE group_id = ? AND until_seq IS NULL ORDER BY device_id').all(id) as Row[]).map(
      (r) => str(r, 'device_id') as DeviceId,
    );
  }

  /** Members as of now, for use inside a write batch only (see `members`). */
  cachedMembers(id: GroupId): { list: DeviceId[]; set: ReadonlySet<DeviceId> } {
    let m = this.members.get(id);
    if (!m) {
      if (this.members.size >= 10_000) this.members.clear();
      const list = this.groupDevicesSync(id);
      m = { list, set: new Set(list) };
      this.members.set(id, m);
    }
    return m;
  }

  pendingWelcomeSeqs(): Map<string, number> {
    if (this.welcomeSeqs === undefined) {
      const rows = this.q('SELECT device_id, group_id, seq FROM welcome_recipients').all() as Row[];
      this.welcomeSeqs = new Map(rows.map((r) => [`${str(r, 'device_id')} ${str(r, 'group_id')}`, num(r, 'seq')]));
    }
    return this.welcomeSeqs;
  }
}
