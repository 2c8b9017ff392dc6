import Database from 'better-sqlite3';
import { z } from 'zod';
import { BlobDigestSchema, type BlobDigest } from '@parley/protocol';
import { SQLITE_MIGRATIONS } from './migrations.js';

/**
 * The SQLite side of `parley admin backup` and `restore`: a consistent
 * snapshot of a live database, the checks a backup must pass before it may
 * replace a data directory, and whether a server still has the database open.
 * The files around it (blobs, temp directories, renames) are the CLI's.
 */

export type BackupErrorCode =
  /** Storage is PostgreSQL: pg_dump / pg_restore are the tools. */
  | 'postgres'
  /** The backup target exists (and --force was not given). */
  | 'exists'
  /** The backup target is the data directory or holds it. */
  | 'bad_target'
  /** No database to back up, or no backup where one was named. */
  | 'not_found'
  /** A server process has the target database open. */
  | 'server_running'
  /** The data directory already holds a database or blobs (and --force was not given). */
  | 'not_empty'
  /** The backup (or the database being backed up) fails its checks. */
  | 'corrupt'
  /** The backup's schema is newer than this build knows. */
  | 'too_new';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}

/** The newest schema version this build migrates to. */
export const SQLITE_SCHEMA_VERSION = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));

export interface SqliteBackupContents {
  schemaVersion: number;
  /** Blobs the database records, by digest: exactly the files a consistent backup must carry. */
  blobs: Array<{ digest: BlobDigest; size: number }>;
}

/**
 * Copies the database at `source` to the new file `dest` with SQLite's online
 * backup API, from a separate read-only connection: in WAL mode a running
 * server keeps writing meanwhile. All pages are copied in one step, inside one
 * read transaction, so the copy is the database as of one commit. (Copied a
 * few pages per step, as is usual, the backup restarts whenever another
 * process commits — under steady load it would never finish.) The copy is
 * switched to a rollback journal so it is one self-contained file, then
 * checked as a restore would check it.
 */
export async function snapshotSqlite(source: string, dest: string): Promise<SqliteBackupContents> {
  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new BackupError('not_found', `no SQLite database at ${source}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(dest, { progress: () => 0x7fffffff });
  } catch (err) {
    throw asCorrupt(err, `the database at ${source} could not be read`);
  } finally {
    db.close();
  }
  try {
    const copy = new Database(dest, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
  } catch (err) {
    throw asCorrupt(err, `the copy of ${source} cannot be read`);
  }
  return inspectSqliteBackup(dest);
}

/**
 * Checks a backed-up database without changing it: SQLite's integrity and
 * foreign-key checks, a Parley schema no newer than this build's (older ones
 * are migrated on start), and the blobs it records.
 */
export function inspectSqliteBackup(path: string): SqliteBackupContents {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw asCorrupt(err, `cannot open ${path} as a SQLite database`);
  }
  try {
    const problems = (db.pragma('integrity_check(10)') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') throw new BackupError('corrupt', `${path} fails SQLite's integrity check: ${problems.slice(0, 3).join('; ')}`);
    if ((db.pragma('foreign_key_check') as unknown[]).length > 0) throw new BackupError('corrupt', `${path} has rows that refer to missing rows (foreign key check)`);
    const hasMigrations = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
    if (!hasMigrations) throw new BackupError('corrupt', `${path} is not a Parley database (no schema_migrations table)`);
    const schemaVersion = Number(db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get());
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) throw new BackupError('corrupt', `${path} records no applied migration`);
    if (schemaVersion > SQLITE_SCHEMA_VERSION) {
      throw new BackupError('too_new', `${path} has schema version ${schemaVersion}, newer than this build's ${SQLITE_SCHEMA_VERSION}: restore it with the Parley version that wrote it, or a newer one`);
    }
    const rows = db.prepare('SELECT digest, size FROM blobs ORDER BY digest').all() as Array<{ digest: unknown; size: unknown }>;
    const blobs = rows.map((r) => {
      const digest = BlobDigestSchema.safeParse(r.digest);
      if (!digest.success || typeof r.size !== 'number') throw new BackupError('corrupt', `${path} records a malformed blob`);
      return { digest: digest.data, size: r.size };
    });
    return { schemaVersion, blobs };
  } catch (err) {
    throw asCorrupt(err, `${path} cannot be read`);
  } finally {
    db.close();
  }
}

/**
 * How far a restore moves every group's sequence forward. Clients drop
 * anything at or below the last seq they saw in a group (a redelivery), and
 * after a restore some of them saw seqs the backup never recorded: new
 * messages must be numbered above all of those, or clients that are ahead would
 * silently ignore them. Gaps are fine (clients order by seq and never wait for
 * a missing one). 2^32 exceeds what any group carries between a backup and its
 * restore; MAX_SAFE_INTEGER leaves room for two million restores.
 */
export const RESTORE_SEQ_GAP = 2 ** 32;

/** Adds `gap` to every group's last assigned seq, in one transaction. */
export function advanceSqliteSequences(path: string, gap: number): void {
  const db = new Database(path);
  try {
    db.prepare('UPDATE mls_groups SET last_seq = last_seq + ?').run(gap);
  } finally {
    db.close();
  }
}

/**
 * Whether another connection (a running server, its checkpointer, an admin
 * command) has the database open. An exclusive lock needs every other
 * connection gone — in WAL mode each holds a shared lock for as long as it is
 * open, and a process that dies releases its locks — so this asks for one
 * without waiting. On network file systems whose locks do not work, neither
 * does this.
 */
export function sqliteInUse(path: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 });
  } catch {
    return false;
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
  } finally {
    db.close();
  }
}

function asCorrupt(err: unknown, message: string): BackupError {
  if (err instanceof BackupError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new BackupError('corrupt', `${message}: ${detail}`, { cause: err });
}

/* ---------- the manifest, backup.json ---------- */

export const BACKUP_FORMAT = 'parley-backup';
export const BACKUP_FORMAT_VERSION = 1;

const BackupManifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_FORMAT_VERSION),
  storage: z.literal('sqlite'),
  schemaVersion: z.number().int().min(1),
  /** When the snapshot was taken, to the minute (UTC). */
  createdAt: z.string().max(40),
  database: z.object({ file: z.literal('parley.db'), bytes: z.number().int().min(0) }),
  /** Whether the backup holds the server's VAPID keys (vapid.json): without them every Web Push subscription ends. Absent in older backups. */
  vapidKeys: z.boolean().optional(),
  blobs: z.object({
    count: z.number().int().min(0),
    bytes: z.number().int().min(0),
    /** Blobs the snapshot records whose file the server deleted before it was copied (see docs/operations.md). */
    missing: z.array(BlobDigestSchema).max(10_000_000),
  }),
});

export type BackupManifest = z.infer<typeof BackupManifestSchema>;

export function parseBackupManifest(text: string, where: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BackupError('corrupt', `${where} is not JSON`, { cause: err });
  }
  const parsed = BackupManifestSchema.safeParse(json);
  if (!parsed.success) {
    const format = (json as { format?: unknown; version?: unknown } | null)?.format;
    const version = (json as { version?: unknown } | null)?.version;
    if (format === BACKUP_FORMAT && typeof version === 'number' && version > BACKUP_FORMAT_VERSION) {
      throw new BackupError('too_new', `${where} is backup format ${version}, newer than this build's ${BACKUP_FORMAT_VERSION}`);
    }
    throw new BackupError('corrupt', `${where} is not a Parley backup manifest: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
