import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  advanceSqliteSequences,
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupError,
  BlobDigestMismatchError,
  FsBlobStore,
  inspectSqliteBackup,
  parseBackupManifest,
  RESTORE_SEQ_GAP,
  snapshotSqlite,
  sqliteInUse,
  SqliteStorage,
  readVapidKeys,
  VAPID_FILE,
  type BackupManifest,
  type ServerConfig,
} from '@parley/server';

/**
 * `parley admin backup <dir>` and `parley admin restore <dir>` on the embedded
 * (SQLite) storage. A backup is a directory:
 *
 *   <dir>/backup.json   format, schema version, counts, blobs the copy lacks
 *   <dir>/parley.db     the database as of one commit (rollback-journal mode, one file)
 *   <dir>/blobs/        the encrypted attachments that database records, laid out
 *                       as in the data directory (<2 hex>/<sha-256>)
 *   <dir>/vapid.json    the server's Web Push (VAPID) keys, when it has made them:
 *                       every browser's push subscription is bound to them
 *
 * Order and consistency: the database snapshot is taken first, then exactly
 * the blob files it records are copied. The server writes a blob's file before
 * it records the blob, never changes a file (its name is its SHA-256), and
 * deletes the file only after deleting the record — which it does only once no
 * stored message refers to the blob and the blob's grace period is over. So
 * every blob in the snapshot had its file on disk when the snapshot was taken,
 * and keeps it unless the server collects the blob during the copy; that can
 * happen only to a blob already past its grace period whose last message is
 * delivered meanwhile. Such files are listed in backup.json as `missing`.
 * (Files first, then the database, would lose every blob uploaded in between.)
 *
 * Everything is written into a temporary directory next to the target, made
 * readable by the owner only, fsynced, and renamed into place: a backup either
 * exists whole or not at all. Restore stages the same way inside the data
 * directory and swaps the database in last.
 */

export interface BackupOptions {
  /** Replace an existing backup at the target (backup) or existing data (restore). */
  force: boolean;
}

export interface BackupReport {
  path: string;
  schemaVersion: number;
  databaseBytes: number;
  blobs: number;
  blobBytes: number;
  /** Recorded blobs the server deleted (collected) before they could be copied. */
  collected: number;
  /** Recorded blobs whose file on the server no longer matches its digest, left out. */
  damaged: number;
}

export interface RestoreReport {
  dataDir: string;
  /** The backup's schema version, and this build's after migrating it. */
  fromSchema: number;
  toSchema: number;
  blobs: number;
  /** Blobs the backup records as missing at the time it was taken. */
  missing: number;
  replaced: boolean;
}

const DB_FILE = 'parley.db';
const MANIFEST = 'backup.json';

function refusePostgres(config: ServerConfig, what: 'backup' | 'restore'): void {
  if (!config.databaseUrl) return;
  throw new BackupError(
    'postgres',
    what === 'backup'
      ? 'storage is PostgreSQL (DATABASE_URL is set): back up the database with pg_dump --format=custom, then copy the blobs/ folder of PARLEY_DATA_DIR (see docs/operations.md, "Backups")'
      : 'storage is PostgreSQL (DATABASE_URL is set): restore the database with pg_restore and the blobs/ folder with a file copy (see docs/operations.md, "Backups")',
  );
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Whether `inner` is `outer` or lies inside it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

async function fsyncPath(path: string): Promise<void> {
  const fd = await open(path, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/**
 * Makes a tree owner-only (directories 0700, files 0600) and durable: every
 * file and directory is fsynced, children before their parent.
 */
async function sealTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await sealTree(path);
    else if (entry.isFile()) {
      await chmod(path, 0o600);
      await fsyncPath(path);
    } else throw new Error(`unexpected file type at ${path}`);
  }
  await chmod(dir, 0o700);
  await fsyncPath(dir);
}

/** FsBlobStore stages uploads in `tmp/`; a finished copy has nothing there. */
async function dropEmptyTmp(blobDir: string): Promise<void> {
  await rmdir(join(blobDir, 'tmp')).catch(() => undefined);
}

/**
 * Copies the VAPID key file from one directory to another (new) one, checked
 * first: a damaged file is refused rather than carried. False when there is none.
 */
async function copyVapidKeys(fromDir: string, toDir: string): Promise<boolean> {
  const from = join(fromDir, VAPID_FILE);
  try {
    if (readVapidKeys(from) === undefined) return false;
  } catch (err) {
    throw new BackupError('corrupt', `${from} is not a VAPID key file`, { cause: err });
  }
  await copyFile(from, join(toDir, VAPID_FILE), constants.COPYFILE_EXCL);
  await chmod(join(toDir, VAPID_FILE), 0o600);
  return true;
}

function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Online backup of the configured SQLite database and its blobs into the new directory `target`. */
export async function backup(config: ServerConfig, target: string, options: BackupOptions): Promise<BackupReport> {
  refusePostgres(config, 'backup');
  const dataDir = resolve(config.dataDir);
  const dbPath = join(dataDir, DB_FILE);
  if (!existsSync(dbPath)) throw new BackupError('not_found', `no database at ${dbPath} (check PARLEY_DATA_DIR)`);
  const dest = resolve(target);
  if (within(dataDir, dest)) throw new BackupError('bad_target', `${dest} is the data directory or holds it: write the backup somewhere else`);
  if (!options.force && (await pathExists(dest))) throw new BackupError('exists', `${dest} already exists: choose another name, or pass --force to replace it`);
  const parent = dirname(dest);
  const parentStat = await stat(parent).catch(() => undefined);
  if (!parentStat?.isDirectory()) throw new BackupError('not_found', `the directory ${parent} does not exist`);

  // mkdtemp creates the directory 0700: nothing inside is readable by others while it is written.
  const tmp = await mkdtemp(join(parent, `.${basename(dest)}.partial-`));
  try {
    const contents = await snapshotSqlite(dbPath, join(tmp, DB_FILE));
    const from = new FsBlobStore(join(dataDir, 'blobs'));
    const to = new FsBlobStore(join(tmp, 'blobs'));
    const missing: BackupManifest['blobs']['missing'] = [];
    let collected = 0;
    let damaged = 0;
    let blobBytes = 0;
    for (const blob of contents.blobs) {
      try {
        const file = await from.get(blob.digest);
        if (!file) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
        // put() re-hashes the bytes, so a damaged file on the server is not carried into the backup.
        const { size } = await to.put(blob.digest, file.stream, Number.MAX_SAFE_INTEGER);
        blobBytes += size;
      } catch (err) {
        if (isMissingFile(err)) collected++;
        else if (err instanceof BlobDigestMismatchError) damaged++;
        else throw err;
        missing.push(blob.digest);
      }
    }
    await dropEmptyTmp(join(tmp, 'blobs'));
    const vapidKeys = await copyVapidKeys(dataDir, tmp);
    const databaseBytes = (await stat(join(tmp, DB_FILE))).size;
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: BACKUP_FORMAT_VERSION,
      storage: 'sqlite',
      schemaVersion: contents.schemaVersion,
      createdAt: `${new Date().toISOString().slice(0, 16)}Z`,
      database: { file: DB_FILE, bytes: databaseBytes },
      vapidKeys,
      blobs: { count: contents.blobs.length - missing.length, bytes: blobBytes, missing },
    };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await sealTree(tmp);

    let aside: string | undefined;
    if (await pathExists(dest)) {
      if (!options.force) throw new BackupError('exists', `${dest} already exists: choose another name, or pass --force to replace it`);
      aside = join(parent, `.${basename(dest)}.replaced-${basename(tmp).split('-').pop() ?? 'old'}`);
      await rename(dest, aside);
    }
    try {
      await rename(tmp, dest);
    } catch (err) {
      if (aside !== undefined) await rename(aside, dest).catch(() => undefined);
      throw err;
    }
    await fsyncPath(parent);
    if (aside !== undefined) await rm(aside, { recursive: true, force: true });
    return { path: dest, schemaVersion: contents.schemaVersion, databaseBytes, blobs: manifest.blobs.count, blobBytes, collected, damaged };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Whether the data directory holds a database or blob files. */
async function holdsData(dataDir: string): Promise<boolean> {
  for (const name of [DB_FILE, `${DB_FILE}-wal`]) if (await pathExists(join(dataDir, name))) return true;
  const blobs = await readdir(join(dataDir, 'blobs')).catch(() => [] as string[]);
  for (const shard of blobs) {
    const inside = await readdir(join(dataDir, 'blobs', shard)).catch(() => ['(a file)']);
    if (inside.length > 0) return true;
  }
  return false;
}

/**
 * Restores the backup directory `source` into the configured data directory.
 * The server must be stopped. Everything is checked and staged inside the
 * data directory before anything there is replaced.
 */
export async function restore(config: ServerConfig, source: string, options: BackupOptions): Promise<RestoreReport> {
  refusePostgres(config, 'restore');
  const src = resolve(source);
  const srcStat = await stat(src).catch(() => undefined);
  if (!srcStat) throw new BackupError('not_found', `no backup at ${src}`);
  if (!srcStat.isDirectory()) throw new BackupError('corrupt', `${src} is not a backup directory (made by parley admin backup)`);
  const manifestText = await readFile(join(src, MANIFEST), 'utf8').catch((err: unknown) => {
    throw new BackupError('corrupt', `${src} is not a Parley backup: ${MANIFEST} cannot be read`, { cause: err });
  });
  const manifest = parseBackupManifest(manifestText, join(src, MANIFEST));
  const contents = inspectSqliteBackup(join(src, DB_FILE));
  if (contents.schemaVersion !== manifest.schemaVersion) {
    throw new BackupError('corrupt', `${join(src, DB_FILE)} has schema version ${contents.schemaVersion} but ${MANIFEST} says ${manifest.schemaVersion}`);
  }

  const dataDir = resolve(config.dataDir);
  if (within(src, join(dataDir, 'blobs')) || src === dataDir) throw new BackupError('bad_target', `the backup ${src} lies inside the data directory it would replace`);
  const dbPath = join(dataDir, DB_FILE);
  const checkTarget = async () => {
    if (sqliteInUse(dbPath)) throw new BackupError('server_running', `${dbPath} is open in another process: stop the Parley server (and any admin command) first`);
    if (!options.force && (await holdsData(dataDir))) {
      throw new BackupError('not_empty', `${dataDir} already holds a database or blobs: pass --force to replace them with the backup`);
    }
  };
  await checkTarget();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const staging = await mkdtemp(join(dataDir, '.restore-'));
  try {
    const stagedDb = join(staging, DB_FILE);
    await copyFile(join(src, DB_FILE), stagedDb, constants.COPYFILE_EXCL);
    const from = new FsBlobStore(join(src, 'blobs'));
    const to = new FsBlobStore(join(staging, 'blobs'));
    const knownMissing = new Set<string>(manifest.blobs.missing);
    let blobs = 0;
    let missing = 0;
    for (const blob of contents.blobs) {
      const file = await from.get(blob.digest);
      if (!file) {
        if (knownMissing.has(blob.digest)) {
          missing++;
          continue;
        }
        throw new BackupError('corrupt', `the backup lacks the file of blob ${blob.digest}, which its database records`);
      }
      try {
        await to.put(blob.digest, file.stream, Number.MAX_SAFE_INTEGER);
      } catch (err) {
        if (err instanceof BlobDigestMismatchError) throw new BackupError('corrupt', `blob ${blob.digest} in the backup does not match its digest`, { cause: err });
        throw err;
      }
      blobs++;
    }
    await dropEmptyTmp(join(staging, 'blobs'));
    if (manifest.vapidKeys === true && !(await copyVapidKeys(src, staging))) throw new BackupError('corrupt', `the backup lacks ${VAPID_FILE}, which ${MANIFEST} lists`);

    // Migrated now, as the server would on start: a backup this build cannot migrate fails here, before the data directory is touched.
    const storage = new SqliteStorage({ path: stagedDb, checkpointInWorker: false });
    try {
      await storage.migrate();
    } finally {
      await storage.close();
    }
    // Numbered above anything clients may have seen after the backup was taken.
    advanceSqliteSequences(stagedDb, RESTORE_SEQ_GAP);
    const toSchema = inspectSqliteBackup(stagedDb).schemaVersion;
    for (const leftover of [`${DB_FILE}-wal`, `${DB_FILE}-shm`]) await rm(join(staging, leftover), { force: true });
    await sealTree(staging);

    // Checked again: a server may have started meanwhile.
    await checkTarget();
    const replaced = await swapIn(dataDir, staging);
    return { dataDir, fromSchema: contents.schemaVersion, toSchema, blobs, missing, replaced };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Moves the staged database and blobs into the data directory. The old ones
 * are moved aside first (with their WAL, which must never meet another
 * database), the blobs come in next and the database last, so an interrupted
 * restore leaves no database rather than a mismatched pair; on a failure the
 * old files are moved back.
 */
async function swapIn(dataDir: string, staging: string): Promise<boolean> {
  const aside = await mkdtemp(join(dataDir, '.replaced-'));
  const movedAside: string[] = [];
  const movedIn: string[] = [];
  try {
    // The VAPID keys are replaced only by a backup that carries them (older backups do not: the server's own stay).
    const keys = existsSync(join(staging, VAPID_FILE)) ? [VAPID_FILE] : [];
    for (const name of [`${DB_FILE}-wal`, `${DB_FILE}-shm`, DB_FILE, 'blobs', ...keys]) {
      try {
        await rename(join(dataDir, name), join(aside, name));
        movedAside.push(name);
      } catch (err) {
        if (!isMissingFile(err)) throw err;
      }
    }
    for (const name of [...keys, 'blobs', DB_FILE]) {
      try {
        await rename(join(staging, name), join(dataDir, name));
        movedIn.push(name);
      } catch (err) {
        if (!isMissingFile(err)) throw err;
      }
    }
    await fsyncPath(dataDir);
  } catch (err) {
    for (const name of movedIn) await rm(join(dataDir, name), { recursive: true, force: true }).catch(() => undefined);
    for (const name of movedAside) await rename(join(aside, name), join(dataDir, name)).catch(() => undefined);
    await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  // The replaced data is deleted, not kept: an operator who wants it kept backs it up first.
  await rm(aside, { recursive: true, force: true });
  return movedAside.length > 0;
}

export function describeBackup(r: BackupReport): string[] {
  const lines = [`backup written to ${r.path}: database ${r.databaseBytes} bytes (schema ${r.schemaVersion}), ${r.blobs} blobs (${r.blobBytes} bytes)`];
  if (r.collected > 0) lines.push(`note: ${r.collected} blob(s) in the snapshot expired and were collected by the server before they could be copied; backup.json lists them`);
  if (r.damaged > 0) lines.push(`warning: ${r.damaged} blob file(s) on the server do not match their digest and were left out; backup.json lists them`);
  return lines;
}

export function describeRestore(r: RestoreReport): string[] {
  const schema = r.fromSchema === r.toSchema ? `schema ${r.toSchema}` : `schema ${r.fromSchema}, migrated to ${r.toSchema}`;
  const lines = [`restored into ${r.dataDir}${r.replaced ? ' (its previous database and blobs deleted)' : ''}: ${schema}, ${r.blobs} blobs; start the server`];
  if (r.missing > 0) lines.push(`note: ${r.missing} blob(s) were already missing when the backup was taken; they are answered 404`);
  return lines;
}
