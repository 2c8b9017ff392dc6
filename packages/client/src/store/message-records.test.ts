import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { messageKey, messageWrite, toMessage } from './message-records.js';
import type { MessageRecord } from './message-records.js';
import { StoreError } from './store.js';

const rid = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const conv = rid() as GroupId;
const alice = rid() as UserId;
const bob = rid() as UserId;
const device = rid() as DeviceId;

const content: MessageContent = { v: 1, id: newContentId(), sentAt: 1_700_000_000_000, type: 'text', text: 'original' };
const base: MessageRecord = { conversationId: conv, seq: 5, senderUserId: alice, senderDeviceId: device, outgoing: false, receivedAt: 1_700_000_000_500, content, plaintext: encodeContent(content) };

function roundTrip(m: MessageRecord): MessageRecord {
  const { key, value } = messageWrite(m);
  return toMessage(key, JSON.stringify(value));
}

describe('message records: reactions, edits, deletes', () => {
  it('reads a record written before reactions, edits and deletes existed', () => {
    const old = { v: 1, conversationId: conv, seq: 5, senderUserId: alice, senderDeviceId: device, outgoing: false, receivedAt: 1, content: toBase64Url(encodeContent(content)) };
    const r = toMessage(messageKey(conv, 5), JSON.stringify(old));
    assert.deepEqual(r.content, content);
    assert.equal(r.reactions, undefined);
    assert.equal(r.edit, undefined);
    assert.equal(r.deletedSeq, undefined);
  });

  it('round-trips reactions (removals kept), the latest edit applied on read, and a deletion without content', () => {
    const reactions = [
      { userId: bob, emoji: '👍', seq: 6 },
      { userId: alice, emoji: null, seq: 7 },
    ];
    const withChanges = roundTrip({ ...base, reactions, edit: { seq: 8, text: 'edited', editedAt: 1_700_000_001_000 } });
    assert.deepEqual(withChanges.reactions, reactions);
    assert.deepEqual(withChanges.edit, { seq: 8, text: 'edited', editedAt: 1_700_000_001_000 });
    assert.equal(withChanges.content.type === 'text' && withChanges.content.text, 'edited', 'the edit is applied on read');
    const gone = roundTrip({ ...base, content: { type: 'deleted', v: 1, id: content.id, sentAt: content.sentAt, deletedAt: 1_700_000_002_000 }, plaintext: new Uint8Array(0), deletedSeq: 9 });
    assert.deepEqual(gone.content, { type: 'deleted', v: 1, id: content.id, sentAt: content.sentAt, deletedAt: 1_700_000_002_000 });
    assert.equal(gone.deletedSeq, 9);
    assert.equal(gone.plaintext.length, 0);
    const { value } = messageWrite({ ...base, content: gone.content, plaintext: new Uint8Array(0), deletedSeq: 9, reactions });
    assert.ok(!('content' in value) && !('reactions' in value), 'a deleted record keeps no plaintext and no reactions');
  });

  it('refuses records that mix a deletion with content or changes, bad emoji and bad edits', () => {
    const { key, value } = messageWrite(base);
    const deleted = { id: content.id, sentAt: content.sentAt, deletedAt: 1, seq: 9 };
    for (const bad of [
      { ...value, deleted },
      { ...value, content: undefined },
      { ...value, content: undefined, deleted, reactions: [{ userId: bob, emoji: '👍', seq: 6 }] },
      { ...value, reactions: [{ userId: bob, emoji: 'like', seq: 6 }] },
      { ...value, reactions: [{ userId: bob, emoji: '👍', seq: 0 }] },
      { ...value, edit: { seq: 8, text: '', editedAt: 1 } },
      { ...value, edit: { seq: 8, text: 'x' } },
    ]) {
      assert.throws(() => toMessage(key, JSON.stringify(bad)), (e: Error) => e instanceof StoreError && e.code === 'corrupt_record');
    }
  });
});
