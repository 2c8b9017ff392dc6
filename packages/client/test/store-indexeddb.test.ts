// fake-indexeddb puts an in-memory IndexedDB (indexedDB, IDBKeyRange) on globalThis for this process.
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { IndexedDbStore, StoreError } from '../src/index.js';
import type { Store } from '../src/index.js';
import { storeContract } from './store-contract.js';

const fresh = () => `parley-test-${randomBytes(6).toString('hex')}`;

storeContract('indexeddb (fake-indexeddb)', async () => {
  const name = fresh();
  let current: Store = await IndexedDbStore.open(name);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = await IndexedDbStore.open(name);
      return current;
    },
    cleanup: async () => {
      await current.close();
      await IndexedDbStore.destroy(name);
    },
  };
}, { persistent: true });

describe('IndexedDbStore lifecycle (fake-indexeddb)', () => {
  it('destroy deletes the data; an open store closes itself for it and reports why', async () => {
    const name = fresh();
    const reasons: string[] = [];
    const store = await IndexedDbStore.open(name, { onClosed: (r) => reasons.push(r) });
    await store.write([{ type: 'put', table: 'meta', key: 'account', value: 'x' }]);
    await IndexedDbStore.destroy(name);
    assert.deepEqual(reasons, ['versionchange']);
    await assert.rejects(store.get('meta', 'account'), (err: unknown) => err instanceof StoreError && err.code === 'closed');
    const again = await IndexedDbStore.open(name);
    try {
      assert.equal(await again.get('meta', 'account'), undefined);
      assert.deepEqual(await again.list('meta'), []);
    } finally {
      await again.close();
      await IndexedDbStore.destroy(name);
    }
  });

  it('destroy fails with blocked while a foreign connection stays open, and completes once it closes', async () => {
    const name = fresh();
    const store = await IndexedDbStore.open(name);
    await store.write([{ type: 'put', table: 'meta', key: 'k', value: 'v' }]);
    await store.close();
    // A connection that ignores versionchange (e.g. an old version of the app in another tab).
    const factory = (globalThis as unknown as { indexedDB: { open(name: string): { result: { close(): void }; error: Error | null; onsuccess: () => void; onerror: () => void } } }).indexedDB;
    const foreign = await new Promise<{ close(): void }>((resolve, reject) => {
      const req = factory.open(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    await assert.rejects(IndexedDbStore.destroy(name, { blockedTimeoutMs: 100 }), (err: unknown) => err instanceof StoreError && err.code === 'blocked');
    foreign.close();
    // The queued deletion went through once the connection closed.
    await new Promise((r) => setTimeout(r, 50));
    const again = await IndexedDbStore.open(name);
    try {
      assert.equal(await again.get('meta', 'k'), undefined);
    } finally {
      await again.close();
      await IndexedDbStore.destroy(name);
    }
  });

  it('maps a failed transaction to io and keeps nothing of the batch', async () => {
    const name = fresh();
    const store = await IndexedDbStore.open(name);
    try {
      await store.write([{ type: 'put', table: 'meta', key: 'a', value: '1' }]);
      // A value IndexedDB refuses mid-batch, after the adapter's own checks passed (a string when checked, a function when
      // stored: DataCloneError): the transaction aborts and takes the first put with it.
      let reads = 0;
      const poisoned = { type: 'put' as const, table: 'meta' as const, key: 'b', get value(): string { reads++; return (reads === 1 ? 'x' : () => undefined) as string; } };
      await assert.rejects(store.write([{ type: 'put', table: 'meta', key: 'a', value: '2' }, poisoned]), (err: unknown) => err instanceof StoreError && err.code === 'io' && /DataCloneError/.test(err.message));
      assert.equal(await store.get('meta', 'a'), '1');
      assert.equal(await store.get('meta', 'b'), undefined);
    } finally {
      await store.close();
      await IndexedDbStore.destroy(name);
    }
  });
});

describe('IndexedDbStore upgrade (fake-indexeddb)', () => {
  it('opens a version-1 database (before the media table) with its records kept and the media table added', async () => {
    const name = fresh();
    const factory = (globalThis as unknown as { indexedDB: Version1Factory }).indexedDB;
    // The database as the previous release created it: five object stores, version 1.
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
    const store = await IndexedDbStore.open(name);
    try {
      assert.equal(await store.get('meta', 'account'), 'from version 1');
      await store.write([{ type: 'put', table: 'media', key: 'h/x', value: 'kept' }]);
      assert.deepEqual(await store.list('media'), [{ key: 'h/x', value: 'kept' }]);
    } finally {
      await store.close();
      await IndexedDbStore.destroy(name);
    }
  });
});

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
