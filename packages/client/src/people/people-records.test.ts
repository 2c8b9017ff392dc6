import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { MemoryStore } from '../store/memory-store.js';
import { ClientRepository, newConversationRecord, StoreBatch } from '../store/records.js';
import { StoreError } from '../store/store.js';
import { PeopleRecords, putBlock, putContact, putRequest } from './people-records.js';

const id = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

describe('people records', () => {
  it('round-trips contacts, blocks and request decisions, tombstones included', async () => {
    const repo = new ClientRepository(new MemoryStore());
    const records = new PeopleRecords(repo);
    const bob = id() as UserId;
    const carol = id() as UserId;
    const conv = id() as GroupId;
    await repo.commit(
      putRequest(
        putBlock(putContact(putContact(new StoreBatch(), { userId: bob, username: 'bob', nickname: 'Bobby', addedAt: 1, updatedAt: 2, removed: false }), { userId: carol, username: 'carol', nickname: null, addedAt: 1, updatedAt: 3, removed: true }), { userId: carol, username: null, blockedAt: 3, updatedAt: 3, blocked: true }),
        { conversationId: conv, state: 'deleted', inviter: carol, updatedAt: 4 },
      ),
    );
    assert.deepEqual((await records.contact(bob))?.nickname, 'Bobby');
    assert.equal((await records.contact(carol))?.removed, true);
    assert.equal((await records.contacts()).length, 2);
    assert.deepEqual(await records.blocks(), [{ userId: carol, username: null, blockedAt: 3, updatedAt: 3, blocked: true }]);
    assert.deepEqual(await records.request(conv), { conversationId: conv, state: 'deleted', inviter: carol, updatedAt: 4 });
    assert.equal(await records.block(bob), undefined);
  });

  it('refuses a record that does not match its schema or sits under another key', async () => {
    const store = new MemoryStore();
    const records = new PeopleRecords(new ClientRepository(store));
    const bob = id() as UserId;
    const other = id() as UserId;
    await store.write([{ type: 'put', table: 'meta', key: `people/contact/${bob}`, value: JSON.stringify({ v: 1, userId: other, username: 'x', nickname: null, addedAt: 1, updatedAt: 1, removed: false }) }]);
    await assert.rejects(records.contact(bob), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record');
    await store.write([{ type: 'put', table: 'meta', key: `people/block/${bob}`, value: JSON.stringify({ v: 1, userId: bob, username: null, blockedAt: 1, updatedAt: 1, blocked: 'yes' }) }]);
    await assert.rejects(records.blocks(), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record');
    await store.write([{ type: 'put', table: 'meta', key: `people/request/${id()}`, value: '{not json' }]);
    await assert.rejects(records.requests(), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record');
  });

  it('conversation records: no request field reads as accepted; pending and deleted round-trip with the inviter', async () => {
    const repo = new ClientRepository(new MemoryStore());
    const me = id() as UserId;
    const stranger = id() as UserId;
    const old = newConversationRecord({ id: id() as GroupId, title: null, kind: 'direct', members: [{ userId: me, username: 'me', devices: [] }] });
    const pending = { ...newConversationRecord({ id: id() as GroupId, title: null, kind: 'unknown', members: [] }), request: 'pending' as const, invitedBy: stranger };
    const deleted = { ...pending, id: id() as GroupId, request: 'deleted' as const, status: 'left' as const };
    await repo.commit(new StoreBatch().putConversation(old).putConversation(pending).putConversation(deleted));
    const read = await repo.conversation(old.id);
    assert.equal(read?.request, undefined);
    assert.equal(read?.invitedBy, undefined);
    assert.deepEqual([(await repo.conversation(pending.id))?.request, (await repo.conversation(pending.id))?.invitedBy], ['pending', stranger]);
    assert.equal((await repo.conversation(deleted.id))?.request, 'deleted');
    await repo.store.write([{ type: 'put', table: 'conversations', key: old.id, value: (await repo.store.get('conversations', old.id))?.replace('"status"', '"request":"maybe","status"') ?? '' }]);
    await assert.rejects(repo.conversation(old.id), (err: unknown) => err instanceof StoreError && err.code === 'corrupt_record');
  });
});
