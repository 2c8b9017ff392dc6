/**
 * The device's local store: ONE transactional key-value store that holds
 * both the MLS state (identity, key-package secrets, group secrets) and the
 * decrypted history. Every change the client makes after a network event is
 * one `write` batch, applied atomically, so a crash can never leave the MLS
 * state ahead of or behind the history (e.g. a ratchet advanced but the
 * message it decrypted lost, or a message stored twice).
 *
 * Adapters only move strings; ClientRepository (records.ts) encodes and
 * validates every record. Adapters: MemoryStore (everywhere), SqliteStore
 * (Node, `@parley/client/node`), IndexedDbStore (browsers). All of them pass
 * the same contract suite (test/store-contract.ts).
 */

/** `media`: attachments and voice messages kept on the device (media/media-records.ts). */
export const STORE_TABLES = ['meta', 'key_packages', 'groups', 'conversations', 'messages', 'media'] as const;
export type StoreTable = (typeof STORE_TABLES)[number];

export type StoreWrite =
  | { readonly type: 'put'; readonly table: StoreTable; readonly key: string; readonly value: string }
  | { readonly type: 'delete'; readonly table: StoreTable; readonly key: string };

export interface StoreEntry {
  readonly key: string;
  readonly value: string;
}

export interface StoreListOptions {
  /** Only keys starting with this prefix. */
  readonly prefix?: string;
  /** Only keys strictly greater than this one. */
  readonly after?: string;
  /** Only keys strictly less than this one. */
  readonly before?: string;
  /** Descending key order: with `limit`, the entries with the HIGHEST keys in range (e.g. the latest messages). */
  readonly reverse?: boolean;
  /** At most this many entries (0 or less: none). */
  readonly limit?: number;
}

export interface Store {
  readonly kind: string;
  get(table: StoreTable, key: string): Promise<string | undefined>;
  /** Entries in ascending (or, with `reverse`, descending) key order. Keys are printable ASCII, so every adapter orders them alike. */
  list(table: StoreTable, options?: StoreListOptions): Promise<StoreEntry[]>;
  /** Applies every write, in order, or none of them. */
  write(writes: readonly StoreWrite[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * `closed`: the store was closed (by its owner, or, for IndexedDB, because
 * another tab deletes or upgrades the database). `blocked`: another open
 * connection keeps an IndexedDB database from being deleted or upgraded.
 */
export type StoreErrorCode = 'corrupt_record' | 'closed' | 'invalid_key' | 'io' | 'blocked';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

const MAX_KEY_LENGTH = 512;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export function checkStoreKey(table: string, key: string): void {
  if (!(STORE_TABLES as readonly string[]).includes(table)) throw new StoreError('invalid_key', `unknown table ${table}`);
  // Printable ASCII only: then every adapter orders keys the same way (UTF-16 units, UTF-8 bytes, code points agree).
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) throw new StoreError('invalid_key', 'store keys are 1-512 printable ASCII characters');
}
