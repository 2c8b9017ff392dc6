import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { NoticeContent } from '../types.js';
import { MemoryStore } from './memory-store.js';
import { ClientRepository, StoreBatch } from './records.js';
import { StoreError } from './store.js';

const id = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const conv = id() as GroupId;
const me = id() as UserId;
const bob = id() as UserId;
const myDevice = id() as DeviceId;

function text(seq: number, from: UserId) {
  const content = { type: 'text' as const, v: 1 as const, id: newContentId(), sentAt: seq, text: `m${seq}` };
  return { conversationId: conv, seq, senderUserId: from, senderDeviceId: myDevice, outgoing: false, receivedAt: seq, content, plaintext: encodeContent(content) };
}

function notice(seq: number, index: number) {
  const content: NoticeContent = { type: 'notice', v: 1, id: newContentId(), sentAt: seq, notice: { kind: 'safety_number_changed', userId: bob, username: 'bob', added: 1, removed: 0, reset: false } };
  return { conversationId: conv, seq, senderUserId: me, senderDeviceId: myDevice, outgoing: false, receivedAt: seq, content, plaintext: new Uint8Array(0), noticeIndex: index };
}

describe('message records with notices', () => {
  it('keeps several notices at one seq, in order with the messages, and pages without repeats or gaps', async () => {
    const repo = new ClientRepository(new MemoryStore());
    await repo.commit(new StoreBatch().putMessage(text(1, bob)).putMessage(notice(2, 0)).putMessage(notice(2, 1)).putMessage(text(3, bob)).putMessage(text(10, bob)));
    const label = (m: { seq: number; content: { type: string }; noticeIndex?: number }) => `${m.seq}${m.content.type === 'notice' ? `n${m.noticeIndex}` : ''}`;
    assert.deepEqual((await repo.messages(conv)).map(label), ['1', '2n0', '2n1', '3', '10']);
    assert.deepEqual((await repo.messages(conv, { afterSeq: 2 })).map(label), ['3', '10'], 'after a seq excludes its notices');
    assert.deepEqual((await repo.messages(conv, { afterSeq: 1 })).map(label), ['2n0', '2n1', '3', '10']);
    assert.deepEqual((await repo.messages(conv, { beforeSeq: 3 })).map(label), ['1', '2n0', '2n1']);
    assert.deepEqual((await repo.messages(conv, { beforeSeq: 2 })).map(label), ['1'], 'before a seq excludes its notices');
    assert.deepEqual((await repo.messages(conv, { beforeSeq: 10, limit: 2, fromEnd: true })).map(label), ['2n1', '3']);
    assert.equal(await repo.countUnread(conv, 0, me), 3, 'notices never count as unread');
    const [n] = await repo.messages(conv, { afterSeq: 1, limit: 1 });
    assert.equal(n?.content.type, 'notice');
    assert.equal(await repo.message(conv, 2), undefined, 'a seq holding only notices has no message');
  });

  it('counts unread messages through an uncommitted batch (stored and pending alike, deletes and notices left out)', async () => {
    const repo = new ClientRepository(new MemoryStore());
    await repo.commit(new StoreBatch().putMessage(text(1, bob)).putMessage(text(2, bob)).putMessage(text(3, me)));
    const batch = new StoreBatch().putMessage(text(4, bob)).putMessage(notice(5, 0)).putMessage(text(6, bob)).putMessage({ ...text(7, me), outgoing: true });
    assert.equal(await repo.countUnread(conv, 0, me), 2, 'without the overlay: the stored ones');
    assert.equal(await repo.countUnread(conv, 0, me, batch), 4, 'with it: stored and pending');
    assert.equal(await repo.countUnread(conv, 4, me, batch), 1, 'above the read position only');
    batch.writes.push({ type: 'delete', table: 'messages', key: `${conv}/${'2'.padStart(16, '0')}` });
    assert.equal(await repo.countUnread(conv, 0, me, batch), 3, 'a delete in the batch hides the stored message');
    const other = id() as GroupId;
    assert.equal(await repo.countUnread(other, 0, me, batch), 0, 'another conversation sees none of it');
  });

  it('refuses a notice record that is malformed or filed under another key', async () => {
    const store = new MemoryStore();
    const repo = new ClientRepository(store);
    await repo.commit(new StoreBatch().putMessage(notice(5, 0)));
    const [row] = await store.list('messages');
    assert.ok(row);
    const bad = JSON.parse(row.value) as { notice: { notice: { kind: string } }; index: number };
    await store.write([{ type: 'put', table: 'messages', key: `${conv}/${'6'.padStart(16, '0')}.0000`, value: row.value }]);
    await assert.rejects(repo.messages(conv, { afterSeq: 5 }), StoreError, 'wrong key');
    bad.notice.notice.kind = 'something_else';
    await store.write([{ type: 'delete', table: 'messages', key: `${conv}/${'6'.padStart(16, '0')}.0000` }, { type: 'put', table: 'messages', key: row.key, value: JSON.stringify(bad) }]);
    await assert.rejects(repo.messages(conv), StoreError, 'unknown notice kind');
  });
});
