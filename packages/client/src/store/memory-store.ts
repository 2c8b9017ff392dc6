import { checkStoreKey, STORE_TABLES, StoreError } from './store.js';
import type { Store, StoreEntry, StoreListOptions, StoreTable, StoreWrite } from './store.js';

/** A Store in memory: for tests, bots and short-lived clients. Gone when the process ends. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly tables = new Map<StoreTable, Map<string, string>>(STORE_TABLES.map((t) => [t, new Map()]));
  private closed = false;

  private table(name: StoreTable): Map<string, string> {
    if (this.closed) throw new StoreError('closed', 'store is closed');
    const t = this.tables.get(name);
    if (t === undefined) throw new StoreError('invalid_key', `unknown table ${name}`);
    return t;
  }

  async get(table: StoreTable, key: string): Promise<string | undefined> {
    return this.table(table).get(key);
  }

  async list(table: StoreTable, options: StoreListOptions = {}): Promise<StoreEntry[]> {
    const { prefix, after, before, reverse, limit } = options;
    const t = this.table(table);
    const keys = [...t.keys()]
      .filter((k) => (prefix === undefined || k.startsWith(prefix)) && (after === undefined || k > after) && (before === undefined || k < before))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (reverse === true) keys.reverse();
    const out: StoreEntry[] = [];
    for (const key of keys) {
      if (limit !== undefined && out.length >= limit) break;
      const value = t.get(key);
      if (value !== undefined) out.push({ key, value });
    }
    return out;
  }

  async write(writes: readonly StoreWrite[]): Promise<void> {
    // Check everything first: a batch is applied completely or not at all.
    for (const w of writes) {
      checkStoreKey(w.table, w.key);
      if (w.type === 'put' && typeof w.value !== 'string') throw new StoreError('invalid_key', 'values are strings');
    }
    for (const w of writes) {
      const t = this.table(w.table);
      if (w.type === 'put') t.set(w.key, w.value);
      else t.delete(w.key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
