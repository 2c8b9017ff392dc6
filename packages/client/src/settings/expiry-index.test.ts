import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupId } from '@parley/protocol';
import { MemoryStore } from '../store/memory-store.js';
import { StoreBatch } from '../store/records.js';
import { dueExpiries, expiryKey, nextExpiry, putExpiry } from './expiry-index.js';

const A = 'AAAAAAAAAAAAAAAAAAAAAA' as GroupId;
const B = 'BBBBBBBBBBBBBBBBBBBBBB' as GroupId;

describe('expiry index', () => {
  it('returns what is due in time order with one range read, and the next expiry', async () => {
    const store = new MemoryStore();
    const batch = new StoreBatch();
    putExpiry(batch, A, 7, 2_000);
    putExpiry(batch, B, 3, 1_000);
    putExpiry(batch, A, 9, 2_001);
    await store.write(batch.writes);
    assert.equal(await nextExpiry(store), 1_000);
    assert.deepEqual((await dueExpiries(store, 999)).due, []);
    assert.deepEqual(
      (await dueExpiries(store, 2_000)).due.map((e) => [e.conversationId, e.seq, e.expiresAt]),
      [
        [B, 3, 1_000],
        [A, 7, 2_000],
      ],
      'up to and including now, oldest first',
    );
    assert.equal((await dueExpiries(store, 10_000, 1)).due.length, 1, 'a page at a time');
  });

  it('reports malformed entries and entries filed under another key instead of trusting them', async () => {
    const store = new MemoryStore();
    const good = new StoreBatch();
    putExpiry(good, A, 1, 500);
    await store.write([
      ...good.writes,
      { type: 'put', table: 'meta', key: expiryKey(400, A, 2), value: 'not json' },
      // Says seq 5, filed under seq 4: refused.
      { type: 'put', table: 'meta', key: expiryKey(450, A, 4), value: JSON.stringify({ v: 1, conversationId: A, seq: 5, expiresAt: 450 }) },
      { type: 'put', table: 'meta', key: expiryKey(460, B, 6), value: JSON.stringify({ v: 2, conversationId: B, seq: 6, expiresAt: 460 }) },
    ]);
    const { due, bad } = await dueExpiries(store, 1_000);
    assert.deepEqual(due.map((e) => e.seq), [1]);
    assert.deepEqual(bad, [expiryKey(400, A, 2), expiryKey(450, A, 4), expiryKey(460, B, 6)]);
  });
});
