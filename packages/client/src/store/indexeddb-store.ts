import { checkStoreKey, STORE_TABLES, StoreError } from './store.js';
import type { Store, StoreEntry, StoreListOptions, StoreTable, StoreWrite } from './store.js';

/*
 * The slice of the IndexedDB API this adapter uses. Typed here rather than
 * taken from the DOM typings, so the package also typechecks for Node.
 */
type IdbHandler = (() => void) | null;
interface IdbError {
  readonly name: string;
}
interface IdbRequest<T> {
  readonly result: T;
  readonly error: IdbError | null;
  onsuccess: IdbHandler;
  onerror: IdbHandler;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: IdbHandler;
  onblocked: IdbHandler;
}
interface IdbCursor {
  readonly key: unknown;
  readonly value: unknown;
  continue(): void;
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>;
  put(value: string, key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
  getAll(range?: unknown, count?: number): IdbRequest<unknown[]>;
  getAllKeys(range?: unknown, count?: number): IdbRequest<unknown[]>;
  openCursor(range: unknown, direction: 'next' | 'prev'): IdbRequest<IdbCursor | null>;
}
interface IdbTransaction {
  readonly error: IdbError | null;
  objectStore(name: string): IdbObjectStore;
  abort(): void;
  oncomplete: IdbHandler;
  onabort: IdbHandler;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(names: string[], mode: 'readonly' | 'readwrite', options?: { durability: 'strict' }): IdbTransaction;
  close(): void;
  onversionchange: IdbHandler;
  onclose: IdbHandler;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
  deleteDatabase(name: string): IdbOpenRequest;
}
interface IdbKeyRangeStatic {
  bound(lower: string, upper: string, lowerOpen: boolean, upperOpen: boolean): unknown;
  lowerBound(lower: string, open: boolean): unknown;
  upperBound(upper: string, open: boolean): unknown;
}

function runtime(): { factory: IdbFactory; keyRange: IdbKeyRangeStatic } {
  const g = globalThis as { indexedDB?: unknown; IDBKeyRange?: unknown };
  if (typeof g.indexedDB !== 'object' || g.indexedDB === null || typeof g.IDBKeyRange !== 'function') {
    throw new StoreError('io', 'IndexedDB is not available here');
  }
  return { factory: g.indexedDB as IdbFactory, keyRange: g.IDBKeyRange as unknown as IdbKeyRangeStatic };
}

/** Bump when STORE_TABLES grows: the upgrade creates whatever object store is missing. */
/** 2: the `media` table. */
const DATABASE_VERSION = 2;
const DEFAULT_BLOCKED_TIMEOUT_MS = 5_000;
/** Every key is printable ASCII (checkStoreKey), so prefix + DEL bounds every key that starts with prefix. */
const AFTER_PRINTABLE = '\x7f';
/** IndexedDB's getAll count is an unsigned long (and 0 there means "no limit"). */
const MAX_COUNT = 0xffffffff;

export interface IndexedDbStoreOptions {
  /**
   * Called when the store closes itself because another tab (or this one)
   * deletes or upgrades the database (`versionchange`), or because the
   * browser closed the connection (storage cleared, disk error). Every call
   * after that fails with StoreError('closed'); reloading the page is the
   * usual answer.
   */
  onClosed?: (reason: 'versionchange' | 'closed_by_browser') => void;
  /** How long `open` waits while older connections elsewhere block an upgrade, before failing with StoreError('blocked'). Default 5 s. */
  blockedTimeoutMs?: number;
}

/**
 * A Store in one IndexedDB database (browsers): one object store per
 * STORE_TABLES entry, string keys, string values. Each `write` batch is ONE
 * readwrite transaction over the object stores it touches, with `strict`
 * durability (flushed before it completes: the MLS state must be on disk
 * before the message it encrypted leaves).
 *
 * Another tab that deletes the database (sign-out) or upgrades it makes
 * this connection close itself rather than block it; see `onClosed`.
 */
export class IndexedDbStore implements Store {
  readonly kind = 'indexeddb';
  private closedBy: 'owner' | 'versionchange' | 'closed_by_browser' | undefined;

  private constructor(
    private readonly db: IdbDatabase,
    private readonly keyRange: IdbKeyRangeStatic,
    private readonly onClosed: IndexedDbStoreOptions['onClosed'],
  ) {
    db.onversionchange = () => this.lose('versionchange');
    db.onclose = () => this.lose('closed_by_browser');
  }

  /** Opens (creating or upgrading if needed) the database `name`. */
  static open(name = 'parley', options: IndexedDbStoreOptions = {}): Promise<IndexedDbStore> {
    const { factory, keyRange } = runtime();
    return new Promise<IndexedDbStore>((resolve, reject) => {
      let settled = false;
      let blockedTimer: ReturnType<typeof setTimeout> | undefined;
      const fail = (err: StoreError) => {
        if (blockedTimer !== undefined) clearTimeout(blockedTimer);
        if (settled) return;
        settled = true;
        reject(err);
      };
      let request: IdbOpenRequest;
      try {
        request = factory.open(name, DATABASE_VERSION);
      } catch (err) {
        // e.g. SecurityError on an opaque origin (about:blank, sandboxed frames).
        fail(new StoreError('io', `could not open the IndexedDB store${errorName(err)}`, { cause: err }));
        return;
      }
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const table of STORE_TABLES) if (!db.objectStoreNames.contains(table)) db.createObjectStore(table);
      };
      request.onblocked = () => {
        // Connections elsewhere were asked to close (versionchange); give them a moment.
        blockedTimer ??= setTimeout(() => fail(new StoreError('blocked', 'another open connection blocks the upgrade of the IndexedDB store')), options.blockedTimeoutMs ?? DEFAULT_BLOCKED_TIMEOUT_MS);
      };
      request.onsuccess = () => {
        if (blockedTimer !== undefined) clearTimeout(blockedTimer);
        const db = request.result;
        if (settled) {
          // We gave up waiting; the open went through later. Nobody holds this connection.
          db.close();
          return;
        }
        settled = true;
        const missing = STORE_TABLES.filter((t) => !db.objectStoreNames.contains(t));
        if (missing.length > 0) {
          db.close();
          reject(new StoreError('io', `the IndexedDB database "${name}" lacks object stores: ${missing.join(', ')}`));
          return;
        }
        resolve(new IndexedDbStore(db, keyRange, options.onClosed));
      };
      request.onerror = () => fail(new StoreError('io', `could not open the IndexedDB store${errorName(request.error)}`, { cause: request.error }));
    });
  }

  /**
   * Deletes the database `name` and everything in it. Open IndexedDbStores
   * on it (in any tab) close themselves first. If another connection does
   * not close within `blockedTimeoutMs` (default 5 s), this rejects with
   * StoreError('blocked'); the deletion then stays queued and happens once
   * that connection closes.
   */
  static destroy(name = 'parley', options: { blockedTimeoutMs?: number } = {}): Promise<void> {
    const { factory } = runtime();
    return new Promise<void>((resolve, reject) => {
      let blockedTimer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (blockedTimer !== undefined) clearTimeout(blockedTimer);
      };
      let request: IdbOpenRequest;
      try {
        request = factory.deleteDatabase(name);
      } catch (err) {
        reject(new StoreError('io', `could not delete the IndexedDB store${errorName(err)}`, { cause: err }));
        return;
      }
      request.onsuccess = () => {
        done();
        resolve();
      };
      request.onerror = () => {
        done();
        reject(new StoreError('io', `could not delete the IndexedDB store${errorName(request.error)}`, { cause: request.error }));
      };
      request.onblocked = () => {
        blockedTimer ??= setTimeout(
          () => reject(new StoreError('blocked', 'another open connection keeps the IndexedDB store from being deleted; it is deleted once that connection closes')),
          options.blockedTimeoutMs ?? DEFAULT_BLOCKED_TIMEOUT_MS,
        );
      };
    });
  }

  private lose(reason: 'versionchange' | 'closed_by_browser'): void {
    if (this.closedBy !== undefined) return;
    this.closedBy = reason;
    try {
      this.db.close();
    } catch {
      /* already closed */
    }
    this.onClosed?.(reason);
  }

  private check(): void {
    if (this.closedBy === undefined) return;
    throw new StoreError(
      'closed',
      this.closedBy === 'owner' ? 'store is closed' : this.closedBy === 'versionchange' ? 'the store was closed: the database is being deleted or upgraded' : 'the store was closed by the browser',
    );
  }

  /** The error for a failed operation: `closed` if the connection went away meanwhile, else `io`. */
  private failure(what: string, cause: unknown): StoreError {
    if (cause instanceof StoreError) return cause;
    if (this.closedBy !== undefined) {
      try {
        this.check();
      } catch (err) {
        if (err instanceof StoreError) return err;
      }
    }
    return new StoreError('io', `${what}${errorName(cause)}`, { cause });
  }

  private transaction(tables: StoreTable[], mode: 'readonly' | 'readwrite'): IdbTransaction {
    this.check();
    try {
      return mode === 'readwrite' ? this.db.transaction(tables, mode, { durability: 'strict' }) : this.db.transaction(tables, mode);
    } catch (err) {
      throw this.failure('could not start an IndexedDB transaction', err);
    }
  }

  private request<T>(req: IdbRequest<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(this.failure(what, req.error));
    });
  }

  async get(table: StoreTable, key: string): Promise<string | undefined> {
    checkTable(table);
    const tx = this.transaction([table], 'readonly');
    let value: unknown;
    try {
      value = await this.request(tx.objectStore(table).get(key), 'store read failed');
    } catch (err) {
      throw this.failure('store read failed', err);
    }
    if (value !== undefined && typeof value !== 'string') throw new StoreError('corrupt_record', `${table} holds a value that is not a string`);
    return value;
  }

  async list(table: StoreTable, options: StoreListOptions = {}): Promise<StoreEntry[]> {
    checkTable(table);
    this.check();
    const range = this.range(options);
    if (range === null) return [];
    let count: number | undefined;
    if (options.limit !== undefined) {
      count = Math.min(MAX_COUNT, Math.floor(options.limit));
      if (!(count > 0)) return [];
    }
    const tx = this.transaction([table], 'readonly');
    const os = tx.objectStore(table);
    let keys: unknown[];
    let values: unknown[];
    try {
      if (options.reverse === true) {
        ({ keys, values } = await this.scanBackwards(os, range, count ?? MAX_COUNT));
      } else {
        // Both requests run in one transaction, so they see the same snapshot.
        [keys, values] = await Promise.all([this.request(os.getAllKeys(range, count), 'store list failed'), this.request(os.getAll(range, count), 'store list failed')]);
      }
    } catch (err) {
      throw this.failure('store list failed', err);
    }
    if (keys.length !== values.length) throw new StoreError('io', 'store list returned mismatched keys and values');
    return keys.map((key, i) => {
      const value = values[i];
      if (typeof key !== 'string' || typeof value !== 'string') throw new StoreError('corrupt_record', `${table} holds a key or value that is not a string`);
      return { key, value };
    });
  }

  /** getAll has no direction: walk a 'prev' cursor instead. */
  private scanBackwards(os: IdbObjectStore, range: unknown, count: number): Promise<{ keys: unknown[]; values: unknown[] }> {
    return new Promise((resolve, reject) => {
      const keys: unknown[] = [];
      const values: unknown[] = [];
      const req = os.openCursor(range, 'prev');
      req.onsuccess = () => {
        const cursor = req.result;
        if (cursor === null) {
          resolve({ keys, values });
          return;
        }
        keys.push(cursor.key);
        values.push(cursor.value);
        if (keys.length >= count) resolve({ keys, values });
        else cursor.continue();
      };
      req.onerror = () => reject(this.failure('store list failed', req.error));
    });
  }

  /** The key range for prefix/after/before; null when it is empty, undefined for "everything". */
  private range(options: StoreListOptions): unknown {
    let lower: string | undefined;
    let lowerOpen = false;
    let upper: string | undefined;
    if (options.prefix !== undefined && options.prefix.length > 0) {
      lower = options.prefix;
      upper = options.prefix + AFTER_PRINTABLE;
    }
    if (options.after !== undefined && (lower === undefined || options.after >= lower)) {
      lower = options.after;
      lowerOpen = true;
    }
    if (options.before !== undefined && (upper === undefined || options.before <= upper)) upper = options.before;
    // The upper bound is always exclusive.
    if (lower !== undefined && upper !== undefined) return lower < upper ? this.keyRange.bound(lower, upper, lowerOpen, true) : null;
    if (lower !== undefined) return this.keyRange.lowerBound(lower, lowerOpen);
    if (upper !== undefined) return this.keyRange.upperBound(upper, true);
    return undefined;
  }

  async write(writes: readonly StoreWrite[]): Promise<void> {
    this.check();
    // Check everything first: a bad write must not even start the transaction.
    for (const w of writes) {
      checkStoreKey(w.table, w.key);
      if (w.type === 'put' && typeof w.value !== 'string') throw new StoreError('invalid_key', 'values are strings');
    }
    if (writes.length === 0) return;
    const tables = [...new Set(writes.map((w) => w.table))];
    const tx = this.transaction(tables, 'readwrite');
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      // A failed request aborts the whole transaction (nothing of the batch is kept); so does a quota error at commit.
      tx.onabort = () => reject(this.failure('store write failed', tx.error));
      try {
        for (const w of writes) {
          const os = tx.objectStore(w.table);
          if (w.type === 'put') os.put(w.value, w.key);
          else os.delete(w.key);
        }
      } catch (err) {
        try {
          tx.abort();
        } catch {
          /* already aborted */
        }
        reject(this.failure('store write failed', err));
      }
    });
  }

  async close(): Promise<void> {
    if (this.closedBy !== undefined) return;
    this.closedBy = 'owner';
    this.db.close();
  }
}

function checkTable(table: string): void {
  if (!(STORE_TABLES as readonly string[]).includes(table)) throw new StoreError('invalid_key', `unknown table ${table}`);
}

/** The DOMException name (QuotaExceededError, VersionError, …): safe to show, says what went wrong. */
function errorName(err: unknown): string {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === 'string' && name.length > 0 ? ` (${name})` : '';
}
