import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import type { BlobDigest, DeviceId, GroupId, UserId } from '@parley/protocol';
import { STORE_TABLES, StoreError } from '../src/index.js';
import { CHUNK_BYTES, deleteMediaFor, MediaRecords } from '../src/media/media-records.js';
import type { Store } from '../src/index.js';
import { ClientRepository, StoreBatch } from '../src/store/records.js';

export interface StoreHarness {
  store: Store;
  /** Closes and reopens the same store (persistent adapters only). */
  reopen?: () => Promise<Store>;
  cleanup(): Promise<void>;
}

const GROUP = 'Z3JvdXAtb25lLWlkLTAwMQ' as GroupId;
const USER = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const DEVICE = 'BBBBBBBBBBBBBBBBBBBBBB' as DeviceId;

function textMessage(seq: number, text: string) {
  const content = { v: 1 as const, id: newContentId(), sentAt: 1_700_000_000_000 + seq, type: 'text' as const, text };
  return { conversationId: GROUP, seq, senderUserId: USER, senderDeviceId: DEVICE, outgoing: false, receivedAt: 1_700_000_000_000, content, plaintext: encodeContent(content) };
}

/** One suite every Store adapter must pass. */
export function storeContract(name: string, open: () => Promise<StoreHarness>, options: { persistent: boolean }): void {
  describe(`store contract: ${name}`, () => {
    it('puts, gets, deletes and lists in key order with prefix, after and limit', async () => {
      const h = await open();
      try {
        const s = h.store;
        assert.equal(await s.get('meta', 'nothing'), undefined);
        await s.write([
          { type: 'put', table: 'messages', key: 'g1/0000000000000010', value: 'ten' },
          { type: 'put', table: 'messages', key: 'g1/0000000000000002', value: 'two' },
          { type: 'put', table: 'messages', key: 'g2/0000000000000001', value: 'other' },
          { type: 'put', table: 'messages', key: 'g1/0000000000000001', value: 'one' },
          { type: 'put', table: 'meta', key: 'g1/0000000000000001', value: 'same key, other table' },
        ]);
        assert.equal(await s.get('messages', 'g1/0000000000000002'), 'two');
        assert.deepEqual((await s.list('messages', { prefix: 'g1/' })).map((e) => e.value), ['one', 'two', 'ten']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', after: 'g1/0000000000000001' })).map((e) => e.value), ['two', 'ten']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', limit: 2 })).map((e) => e.key), ['g1/0000000000000001', 'g1/0000000000000002']);
        assert.deepEqual((await s.list('messages')).map((e) => e.value), ['one', 'two', 'ten', 'other']);
        assert.deepEqual((await s.list('meta')).map((e) => e.value), ['same key, other table']);
        // before (exclusive) and reverse: the entries just below a key, nearest first.
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', before: 'g1/0000000000000010' })).map((e) => e.value), ['one', 'two']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', reverse: true })).map((e) => e.value), ['ten', 'two', 'one']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', reverse: true, limit: 2 })).map((e) => e.value), ['ten', 'two']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', before: 'g1/0000000000000010', reverse: true, limit: 1 })).map((e) => e.value), ['two']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', after: 'g1/0000000000000001', before: 'g1/0000000000000010' })).map((e) => e.value), ['two']);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', after: 'g1/0000000000000002', before: 'g1/0000000000000002' })).map((e) => e.value), []);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', after: 'g1/0000000000000010', before: 'g1/0000000000000001' })).map((e) => e.value), []);
        // A bound outside the prefix does not widen it.
        assert.deepEqual((await s.list('messages', { prefix: 'g1/', before: 'g9' })).map((e) => e.value), ['one', 'two', 'ten']);
        assert.deepEqual((await s.list('messages', { prefix: 'g2/', after: 'g1/0000000000000010' })).map((e) => e.value), ['other']);
        assert.deepEqual((await s.list('messages', { before: 'g2/' , reverse: true })).map((e) => e.value), ['ten', 'two', 'one']);
        assert.deepEqual((await s.list('messages', { after: 'g1/0000000000000010' })).map((e) => e.value), ['other']);
        assert.deepEqual(await s.list('messages', { prefix: 'g1/', limit: 0 }), []);
        assert.deepEqual(await s.list('messages', { prefix: 'nothing/' }), []);
        await s.write([
          { type: 'put', table: 'messages', key: 'g1/0000000000000002', value: 'TWO' },
          { type: 'delete', table: 'messages', key: 'g1/0000000000000010' },
          { type: 'delete', table: 'messages', key: 'never-there' },
        ]);
        assert.deepEqual((await s.list('messages', { prefix: 'g1/' })).map((e) => e.value), ['one', 'TWO']);
        // Prefix matching is literal (no LIKE wildcards).
        await s.write([{ type: 'put', table: 'groups', key: 'a%b', value: 'x' }, { type: 'put', table: 'groups', key: 'aXb', value: 'y' }]);
        assert.deepEqual((await s.list('groups', { prefix: 'a%' })).map((e) => e.value), ['x']);
      } finally {
        await h.cleanup();
      }
    });

    it('applies a batch completely or not at all', async () => {
      const h = await open();
      try {
        await h.store.write([{ type: 'put', table: 'meta', key: 'kept', value: 'v1' }]);
        await assert.rejects(
          h.store.write([
            { type: 'put', table: 'meta', key: 'kept', value: 'v2' },
            { type: 'put', table: 'meta', key: 'new', value: 'x' },
            { type: 'put', table: 'meta', key: 'bad key with spaces', value: 'x' },
          ]),
          (err: unknown) => err instanceof StoreError,
        );
        assert.equal(await h.store.get('meta', 'kept'), 'v1');
        assert.equal(await h.store.get('meta', 'new'), undefined);
        await assert.rejects(h.store.write([{ type: 'put', table: 'nope' as 'meta', key: 'k', value: 'v' }]), (err: unknown) => err instanceof StoreError);
      } finally {
        await h.cleanup();
      }
    });

    it('orders every printable ASCII key the same way', async () => {
      const h = await open();
      try {
        const keys = ['a~', 'a!', 'aZ', 'a0', 'a_', 'a', 'aa', 'a/', 'A', '~', '!'];
        await h.store.write(keys.map((key) => ({ type: 'put' as const, table: 'meta' as const, key, value: key })));
        const sorted = [...keys].sort();
        assert.deepEqual((await h.store.list('meta')).map((e) => e.key), sorted);
        assert.deepEqual((await h.store.list('meta', { reverse: true })).map((e) => e.key), [...sorted].reverse());
        assert.deepEqual((await h.store.list('meta', { prefix: 'a' })).map((e) => e.key), sorted.filter((k) => k.startsWith('a')));
      } finally {
        await h.cleanup();
      }
    });

    it('refuses every call after close with StoreError closed', async () => {
      const h = await open();
      try {
        await h.store.write([{ type: 'put', table: 'meta', key: 'k', value: 'v' }]);
        await h.store.close();
        const closed = (err: unknown) => err instanceof StoreError && err.code === 'closed';
        await assert.rejects(h.store.get('meta', 'k'), closed);
        await assert.rejects(h.store.list('meta'), closed);
        await assert.rejects(h.store.write([{ type: 'put', table: 'meta', key: 'k', value: 'w' }]), closed);
        await h.store.close();
      } finally {
        await h.cleanup();
      }
    });

    it('validates every record it reads back through the repository', async () => {
      const h = await open();
      try {
        const repo = new ClientRepository(h.store);
        const m = textMessage(1, 'hello');
        await repo.commit(
          new StoreBatch()
            .putConversation({ id: GROUP, title: 't', members: [{ userId: USER, username: 'alice', devices: [DEVICE] }], status: 'active', createdAt: 1, lastSeq: 1, ownSeqs: [], readSeq: 0, unread: 1, lastMessageSeq: 1 })
            .putMessage(m)
            .putKeyPackage({ ref: 'abcd', bundle: new Uint8Array([1, 2, 3]), lastResort: false }),
        );
        const [read] = await repo.messages(GROUP);
        assert.equal(read?.content.type === 'text' ? read.content.text : '', 'hello');
        assert.equal((await repo.conversation(GROUP))?.title, 't');
        assert.deepEqual((await repo.keyPackage('abcd'))?.bundle, new Uint8Array([1, 2, 3]));

        const corrupt = async (table: 'conversations' | 'messages' | 'key_packages', key: string, value: string, read: () => Promise<unknown>) => {
          await h.store.write([{ type: 'put', table, key, value }]);
          await assert.rejects(read(), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record');
        };
        await corrupt('conversations', GROUP, '{"v":1,"id":"x"}', () => repo.conversation(GROUP));
        await corrupt('conversations', GROUP, 'not json', () => repo.conversations());
        await corrupt('key_packages', 'abcd', JSON.stringify({ v: 1, ref: 'ffff', bundle: 'AQID', lastResort: false }), () => repo.keyPackage('abcd'));
        // A well-formed record whose content does not decode is refused too.
        const bad = JSON.stringify({ v: 1, conversationId: GROUP, seq: 1, senderUserId: USER, senderDeviceId: DEVICE, outgoing: false, receivedAt: 1, content: 'e30' });
        await corrupt('messages', `${GROUP}/0000000000000001`, bad, () => repo.messages(GROUP));
      } finally {
        await h.cleanup();
      }
    });

    it('has every table, and keeps media in chunks of long strings, written with their header in one batch and checked on read', async () => {
      const h = await open();
      try {
        for (const table of STORE_TABLES) {
          await h.store.write([{ type: 'put', table, key: 'probe', value: table }]);
          assert.equal(await h.store.get(table, 'probe'), table);
        }
        const media = new MediaRecords(h.store);
        const big = new Uint8Array(CHUNK_BYTES * 2 + 1234);
        for (let i = 0; i < big.length; i += 65_536) crypto.getRandomValues(big.subarray(i, i + 65_536));
        const blob = { digest: 'ab'.repeat(32) as BlobDigest, size: big.length, key: new Uint8Array(32).fill(1), nonce: new Uint8Array(12).fill(2) };
        const content = { type: 'attachment', blob };
        const batch = new StoreBatch();
        await media.put(batch, blob, big, 'image/png');
        await h.store.write(batch.writes);
        assert.equal((await h.store.list('media', { prefix: 'c/' })).length, 3, 'three chunks');
        const read = await media.read(blob);
        assert.ok(typeof read === 'object');
        assert.deepEqual(read.bytes, big);
        assert.equal(await media.read({ ...blob, key: new Uint8Array(32) }), 'missing', 'other secrets do not get it');
        // A chunk one character short fails the checks.
        const [first] = await h.store.list('media', { prefix: 'c/', limit: 1 });
        assert.ok(first);
        await h.store.write([{ type: 'put', table: 'media', key: first.key, value: first.value.slice(1) }]);
        assert.equal(await media.read(blob), 'corrupt');
        const del = new StoreBatch();
        deleteMediaFor(del, content);
        await h.store.write(del.writes);
        assert.equal(await media.read(blob), 'missing');
        assert.deepEqual(await h.store.list('media'), [{ key: 'probe', value: 'media' }], 'deleteMediaFor leaves nothing of it');
      } finally {
        await h.cleanup();
      }
    });

    // Only adapters that keep data across a reopen get this test; the memory store is not one.
    if (!options.persistent) return;
    it('keeps what was written across a reopen', async () => {
      const h = await open();
      try {
        assert.ok(h.reopen, 'a persistent adapter can reopen its store');
        await new ClientRepository(h.store).commit(new StoreBatch().putMessage(textMessage(7, 'persisted')));
        const again = await h.reopen();
        const [m] = await new ClientRepository(again).messages(GROUP);
        assert.equal(m?.seq, 7);
        assert.equal(m?.content.type === 'text' ? m.content.text : '', 'persisted');
      } finally {
        await h.cleanup();
      }
    });
  });
}
