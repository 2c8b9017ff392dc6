import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupId, UserId } from '@parley/protocol';
import { MemoryStore } from '../store/memory-store.js';
import { StoreBatch } from '../store/records.js';
import { StoreError } from '../store/store.js';
import { loadAllReceipts, putReceipts, putReceiptSetting, readReceipts, readReceiptSetting, receiptsKey } from './receipt-records.js';

const conv = 'Z3JvdXAtb25l' as GroupId;
const bob = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const carol = 'BBBBBBBBBBBBBBBBBBBBBB' as UserId;

describe('receipt records', () => {
  it('round-trip through a batch, read through an uncommitted overlay, and load all at once', async () => {
    const store = new MemoryStore();
    const batch = new StoreBatch();
    putReceipts(batch, conv, new Map([[bob, { delivered: 7, read: 5 }]]));
    assert.deepEqual(await readReceipts(store, conv), new Map(), 'nothing before the write');
    assert.deepEqual(await readReceipts(store, conv, batch), new Map([[bob, { delivered: 7, read: 5 }]]), 'the overlay sees it');
    await store.write(batch.writes);
    const next = new StoreBatch();
    putReceipts(next, conv, new Map([[bob, { delivered: 9, read: 9 }], [carol, { delivered: 3, read: 0 }]]));
    await store.write(next.writes);
    const all = await loadAllReceipts(store);
    assert.deepEqual([...all.keys()], [conv]);
    assert.deepEqual(all.get(conv), new Map([[bob, { delivered: 9, read: 9 }], [carol, { delivered: 3, read: 0 }]]));
  });

  it('refuses corrupt records with a typed error', async () => {
    for (const value of ['not json', '{"v":1,"users":{"short":{"delivered":1,"read":0}}}', '{"v":1,"users":{"AAAAAAAAAAAAAAAAAAAAAA":{"delivered":-1,"read":0}}}', '{"v":2,"users":{}}']) {
      const store = new MemoryStore();
      await store.write([{ type: 'put', table: 'meta', key: receiptsKey(conv), value }]);
      await assert.rejects(readReceipts(store, conv), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record', value);
    }
  });

  it('keeps the read-receipt setting, on by default', async () => {
    const store = new MemoryStore();
    assert.deepEqual(await readReceiptSetting(store), { on: true, updatedAt: 0 });
    const batch = new StoreBatch();
    putReceiptSetting(batch, { on: false, updatedAt: 42 });
    await store.write(batch.writes);
    assert.deepEqual(await readReceiptSetting(store), { on: false, updatedAt: 42 });
  });
});
