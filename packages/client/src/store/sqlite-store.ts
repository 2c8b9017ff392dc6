import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { checkStoreKey, STORE_TABLES, StoreError } from './store.js';
import type { Store, StoreEntry, StoreListOptions, StoreTable, StoreWrite } from './store.js';

/**
 * A Store in one SQLite file (Node only; the browser build leaves this file
 * out). One table of (tbl, key, value); each write batch is one SQLite
 * transaction. secure_delete zeroes freed pages, so deleted key material and
 * history do not linger in the file.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private closed = false;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating if needed) the store at `path`; ':memory:' for a throwaway database. */
  static open(path: string): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('secure_delete = ON');
      db.exec(`CREATE TABLE IF NOT EXISTS records (
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (tbl, key)
      ) WITHOUT ROWID`);
    } catch (err) {
      db.close();
      throw new StoreError('io', 'could not open the SQLite store', { cause: err });
    }
    return new SqliteStore(db);
  }

  private check(): void {
    if (this.closed) throw new StoreError('closed', 'store is closed');
  }

  async get(table: StoreTable, key: string): Promise<string | undefined> {
    this.check();
    const row: unknown = this.db.prepare('SELECT value FROM records WHERE tbl = ? AND key = ?').get(table, key);
    return valueOf(row);
  }

  async list(table: StoreTable, options: StoreListOptions = {}): Promise<StoreEntry[]> {
    this.check();
    if (!(STORE_TABLES as readonly string[]).includes(table)) throw new StoreError('invalid_key', `unknown table ${table}`);
    const clauses = ['tbl = ?'];
    const args: Array<string | number> = [table];
    if (options.prefix !== undefined && options.prefix.length > 0) {
      // A range instead of LIKE: keys may contain % and _. '~' + 1 ('\x7f') sorts after every printable ASCII key character.
      clauses.push('key >= ? AND key < ?');
      args.push(options.prefix, options.prefix + '\x7f');
    }
    if (options.after !== undefined) {
      clauses.push('key > ?');
      args.push(options.after);
    }
    if (options.before !== undefined) {
      clauses.push('key < ?');
      args.push(options.before);
    }
    // Keys are compared with the default BINARY collation: byte order, the same as every other adapter for ASCII keys.
    let sql = `SELECT key, value FROM records WHERE ${clauses.join(' AND ')} ORDER BY key${options.reverse === true ? ' DESC' : ''}`;
    if (options.limit !== undefined) {
      sql += ' LIMIT ?';
      // SQLite reads a negative LIMIT as "no limit"; the contract says none.
      args.push(Math.max(0, Math.floor(options.limit)));
    }
    const rows: unknown[] = this.db.prepare(sql).all(...args);
    return rows.map((row) => {
      const key = (row as { key?: unknown }).key;
      const value = valueOf(row);
      if (typeof key !== 'string' || value === undefined) throw new StoreError('corrupt_record', 'store row is malformed');
      return { key, value };
    });
  }

  async write(writes: readonly StoreWrite[]): Promise<void> {
    this.check();
    for (const w of writes) checkStoreKey(w.table, w.key);
    const put = this.db.prepare('INSERT INTO records (tbl, key, value) VALUES (?, ?, ?) ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value');
    const del = this.db.prepare('DELETE FROM records WHERE tbl = ? AND key = ?');
    const apply = this.db.transaction((batch: readonly StoreWrite[]) => {
      for (const w of batch) {
        if (w.type === 'put') put.run(w.table, w.key, w.value);
        else del.run(w.table, w.key);
      }
    });
    try {
      apply(writes);
    } catch (err) {
      throw new StoreError('io', 'store write failed', { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function valueOf(row: unknown): string | undefined {
  if (row === undefined) return undefined;
  const value = (row as { value?: unknown }).value;
  if (typeof value !== 'string') throw new StoreError('corrupt_record', 'store row is malformed');
  return value;
}
