/**
 * Bundled for the browser by store-indexeddb-browser.test.ts: scenarios
 * that run the real IndexedDbStore (through the public, browser-safe
 * `@parley/client` entry) in Chromium. Each returns plain JSON for the Node
 * side to assert on.
 */
import { encodeContent, newContentId } from '@parley/crypto';
import type { BlobDigest, DeviceId, GroupId, UserId } from '@parley/protocol';
import { IndexedDbStore, StoreError } from '../../src/index.js';
import type { Store, StoreWrite } from '../../src/index.js';
import { ClientRepository, StoreBatch } from '../../src/store/records.js';
import { CHUNK_BYTES, deleteMediaFor, MediaRecords } from '../../src/media/media-records.js';

const put = (table: StoreWrite['table'], key: string, value: string): StoreWrite => ({ type: 'put', table, key, value });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof StoreError ? err.code : `not a StoreError: ${String(err)}`;
  }
}

async function values(store: Store, table: StoreWrite['table'], options: Parameters<Store['list']>[1] = {}): Promise<string[]> {
  return (await store.list(table, options)).map((e) => e.value);
}

const scenarios = {
  async basics(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      await s.write([
        put('messages', 'g1/0000000000000010', 'ten'),
        put('messages', 'g1/0000000000000002', 'two'),
        put('messages', 'g2/0000000000000001', 'other'),
        put('messages', 'g1/0000000000000001', 'one'),
        put('meta', 'g1/0000000000000001', 'same key, other table'),
        put('groups', 'a%b', 'x'),
        put('groups', 'aXb', 'y'),
      ]);
      const out = {
        kind: s.kind,
        get: await s.get('messages', 'g1/0000000000000002'),
        missing: (await s.get('messages', 'nope')) ?? null,
        all: await values(s, 'messages'),
        prefix: await values(s, 'messages', { prefix: 'g1/' }),
        after: await values(s, 'messages', { prefix: 'g1/', after: 'g1/0000000000000001' }),
        limit: await values(s, 'messages', { prefix: 'g1/', limit: 2 }),
        before: await values(s, 'messages', { prefix: 'g1/', before: 'g1/0000000000000010' }),
        latest: await values(s, 'messages', { prefix: 'g1/', reverse: true, limit: 2 }),
        literalPrefix: await values(s, 'groups', { prefix: 'a%' }),
        meta: await values(s, 'meta'),
        unknownTable: await codeOf(s.get('nope' as 'meta', 'k')),
      };
      await s.write([put('messages', 'g1/0000000000000002', 'TWO'), { type: 'delete', table: 'messages', key: 'g1/0000000000000010' }, { type: 'delete', table: 'messages', key: 'never-there' }]);
      return { ...out, afterUpdate: await values(s, 'messages', { prefix: 'g1/' }) };
    } finally {
      await s.close();
    }
  },

  async atomic(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      await s.write([put('meta', 'kept', 'v1')]);
      const badKey = await codeOf(s.write([put('meta', 'kept', 'v2'), put('conversations', 'new', 'x'), put('meta', 'bad key with spaces', 'x')]));
      const badTable = await codeOf(s.write([put('meta', 'kept', 'v3'), put('nope' as 'meta', 'k', 'v')]));
      return { badKey, badTable, kept: await s.get('meta', 'kept'), created: (await s.get('conversations', 'new')) ?? null };
    } finally {
      await s.close();
    }
  },

  /** Writes through the repository (validated, versioned records); `readBack` reads them after a page reload. */
  async writeForReload(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      const content = { v: 1 as const, id: newContentId(), sentAt: 1_700_000_000_000, type: 'text' as const, text: 'kept across a reload' };
      const message = {
        conversationId: 'Z3JvdXAtb25lLWlkLTAwMQ' as GroupId,
        seq: 7,
        senderUserId: 'AAAAAAAAAAAAAAAAAAAAAA' as UserId,
        senderDeviceId: 'BBBBBBBBBBBBBBBBBBBBBB' as DeviceId,
        outgoing: false,
        receivedAt: 1_700_000_000_001,
        content,
        plaintext: encodeContent(content),
      };
      await new ClientRepository(s).commit(new StoreBatch().putMessage(message));
      return { written: 1 };
    } finally {
      await s.close();
    }
  },

  /** A database as the release before the media table created it (version 1): opened now, upgraded, records kept. */
  async upgradeFromVersion1(name: string) {
    const factory = (globalThis as unknown as { indexedDB: Version1Factory }).indexedDB;
    await new Promise<void>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        for (const t of ['meta', 'key_packages', 'groups', 'conversations', 'messages']) req.result.createObjectStore(t);
      };
      req.onsuccess = () => {
        const db = req.result;
        const tx = db.transaction('meta', 'readwrite');
        tx.objectStore('meta').put('from version 1', 'account');
        tx.oncomplete = () => {
          db.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error ?? new Error('write failed'));
      };
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const s = await IndexedDbStore.open(name);
    try {
      return { account: (await s.get('meta', 'account')) ?? null, media: await values(s, 'media') };
    } finally {
      await s.close();
    }
  },

  /** Media as the client keeps it: 512 KiB chunks (long base64url strings) and a header in one transaction, checked on read. */
  async media(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      const records = new MediaRecords(s);
      const bytes = new Uint8Array(CHUNK_BYTES * 3 + 99);
      for (let i = 0; i < bytes.length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, i + 65_536));
      const blob = { digest: 'cd'.repeat(32) as BlobDigest, size: bytes.length, key: new Uint8Array(32).fill(3), nonce: new Uint8Array(12).fill(4) };
      const batch = new StoreBatch();
      await records.put(batch, blob, bytes, 'image/jpeg');
      await s.write(batch.writes);
      const read = await records.read(blob);
      const same = typeof read === 'object' && read.bytes.length === bytes.length && read.bytes.every((b, i) => b === bytes[i]);
      const chunks = (await s.list('media', { prefix: 'c/' })).length;
      const del = new StoreBatch();
      const content = { type: 'attachment', blob };
      deleteMediaFor(del, content);
      await s.write(del.writes);
      return { same, chunks, afterDelete: await records.read(blob), left: (await s.list('media')).length };
    } finally {
      await s.close();
    }
  },

  async readBack(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      const [m] = await new ClientRepository(s).messages('Z3JvdXAtb25lLWlkLTAwMQ' as GroupId);
      return { seq: m?.seq ?? null, text: m?.content.type === 'text' ? m.content.text : null };
    } finally {
      await s.close();
    }
  },

  /** Opens a store and keeps it open, as another tab would; `otherTabState` reports what happened to it. */
  async holdOpen(name: string) {
    const s = await IndexedDbStore.open(name, { onClosed: (reason) => held.reasons.push(reason) });
    await s.write([put('meta', 'account', 'someone')]);
    held.store = s;
    return { holding: true };
  },

  async otherTabState() {
    const s = held.store;
    if (s === undefined) return { error: 'nothing held' };
    return { reasons: held.reasons, read: await codeOf(s.get('meta', 'account')) };
  },

  async destroy(name: string) {
    await IndexedDbStore.destroy(name);
    return { databases: await scenarios.databases() };
  },

  async contents(name: string) {
    const s = await IndexedDbStore.open(name);
    try {
      return { meta: await values(s, 'meta'), messages: await values(s, 'messages') };
    } finally {
      await s.close();
    }
  },

  async databases() {
    const factory = (globalThis as unknown as { indexedDB: { databases(): Promise<Array<{ name: string }>> } }).indexedDB;
    return (await factory.databases()).map((d) => d.name);
  },
};

const held: { store: IndexedDbStore | undefined; reasons: string[] } = { store: undefined, reasons: [] };

(globalThis as unknown as { parleyStoreScenarios: typeof scenarios }).parleyStoreScenarios = scenarios;

/** The little of IndexedDB's factory that creating a version-1 database needs (no DOM types in this build). */
interface Version1Factory {
  open(
    name: string,
    version: number,
  ): {
    result: { createObjectStore(name: string): unknown; transaction(store: string, mode: 'readwrite'): { objectStore(name: string): { put(value: string, key: string): unknown }; oncomplete: () => void; onerror: () => void; error: Error | null }; close(): void };
    error: Error | null;
    onupgradeneeded: () => void;
    onsuccess: () => void;
    onerror: () => void;
  };
}
