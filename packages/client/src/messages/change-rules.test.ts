import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DELETE_WINDOW_MS, EDIT_WINDOW_MS, encodeContent, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { MemberRecord, MessageRecord } from '../store/records.js';
import { applyChange, checkChange } from './change-rules.js';
import type { ChangeContent } from './change-rules.js';

const rid = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const conv = rid() as GroupId;
const alice = { userId: rid() as UserId, deviceId: rid() as DeviceId };
const alicePhone = { userId: alice.userId, deviceId: rid() as DeviceId };
const bob = { userId: rid() as UserId, deviceId: rid() as DeviceId };
const members: MemberRecord[] = [
  { userId: alice.userId, username: 'alice', devices: [alice.deviceId, alicePhone.deviceId] },
  { userId: bob.userId, username: 'bob', devices: [bob.deviceId] },
];
const T0 = 1_700_000_000_000;

function record(seq: number, from: typeof alice, content: MessageContent): MessageRecord {
  return { conversationId: conv, seq, senderUserId: from.userId, senderDeviceId: from.deviceId, outgoing: false, receivedAt: T0, content, plaintext: encodeContent(content) };
}
const text = (seq: number, from = alice) => record(seq, from, { v: 1, id: newContentId(), sentAt: T0, type: 'text', text: 'hello' });
const ref = (m: MessageRecord) => ({ seq: m.seq, id: m.content.id });
const change = (body: Record<string, unknown>, sentAt = T0 + 1000) => ({ v: 1, id: newContentId(), sentAt, ...body }) as ChangeContent;

describe('change rules', () => {
  it('reactions: any member, one per person, the higher seq wins, null removes', () => {
    let m = text(3);
    const r1 = change({ type: 'reaction', target: ref(m), emoji: '👍' });
    assert.deepEqual(checkChange(r1, 5, bob, members, m), { kind: 'apply' });
    m = applyChange(m, r1, 5, bob.userId);
    const older = change({ type: 'reaction', target: ref(m), emoji: '😂' });
    assert.deepEqual(checkChange(older, 4, bob, members, m), { kind: 'stale' }, 'an older reaction arriving later changes nothing');
    const mine = change({ type: 'reaction', target: ref(m), emoji: '❤️' });
    m = applyChange(m, mine, 6, alice.userId);
    m = applyChange(m, change({ type: 'reaction', target: ref(m), emoji: null }), 7, bob.userId);
    assert.deepEqual(m.reactions, [
      { userId: alice.userId, emoji: '❤️', seq: 6 },
      { userId: bob.userId, emoji: null, seq: 7 },
    ]);
    // Alice's phone is the same person: it replaces her reaction.
    m = applyChange(m, change({ type: 'reaction', target: ref(m), emoji: '🎉' }), 8, alicePhone.userId);
    assert.deepEqual(m.reactions?.filter((r) => r.userId === alice.userId), [{ userId: alice.userId, emoji: '🎉', seq: 8 }]);
  });

  it('edits and deletes: only the sender (any of their devices), within the windows, the latest edit wins', () => {
    const m = text(3);
    const edit = change({ type: 'edit', target: ref(m), text: 'hello!' });
    assert.deepEqual(checkChange(edit, 5, alicePhone, members, m), { kind: 'apply' });
    assert.equal(checkChange(edit, 5, bob, members, m).kind, 'invalid');
    const edited = applyChange(m, edit, 9, alice.userId);
    assert.equal(edited.content.type === 'text' && edited.content.text, 'hello!');
    assert.ok(!new TextDecoder().decode(edited.plaintext).includes('"hello"'), 'the replaced text is not kept');
    assert.ok(new TextDecoder().decode(edited.plaintext).includes('"hello!"'));
    assert.deepEqual(checkChange(change({ type: 'edit', target: ref(m), text: 'older' }), 8, alice, members, edited), { kind: 'stale' });
    assert.deepEqual(checkChange(change({ type: 'edit', target: ref(m), text: 'late' }, T0 + EDIT_WINDOW_MS), 10, alice, members, m), { kind: 'apply' });
    assert.equal(checkChange(change({ type: 'edit', target: ref(m), text: 'late' }, T0 + EDIT_WINDOW_MS + 1), 10, alice, members, m).kind, 'invalid');
    assert.deepEqual(checkChange(change({ type: 'delete', target: ref(m) }, T0 + DELETE_WINDOW_MS), 10, alice, members, m), { kind: 'apply' });
    assert.equal(checkChange(change({ type: 'delete', target: ref(m) }, T0 + DELETE_WINDOW_MS + 1), 10, alice, members, m).kind, 'invalid');
    assert.equal(checkChange(change({ type: 'delete', target: ref(m) }), 10, bob, members, m).kind, 'invalid');
  });

  it('a delete removes content, reactions and edit; later changes are invalid, earlier ones arriving late are stale', () => {
    let m = text(3);
    m = applyChange(m, change({ type: 'reaction', target: ref(m), emoji: '👍' }), 4, bob.userId);
    m = applyChange(m, change({ type: 'edit', target: ref(m), text: 'v2' }), 5, alice.userId);
    const id = m.content.id;
    const gone = applyChange(m, change({ type: 'delete', target: ref(m) }, T0 + 5000), 7, alice.userId);
    assert.deepEqual(gone.content, { type: 'deleted', v: 1, id, sentAt: T0, deletedAt: T0 + 5000 });
    assert.equal(gone.plaintext.length, 0);
    assert.equal(gone.reactions, undefined);
    assert.equal(gone.edit, undefined);
    assert.equal(checkChange(change({ type: 'reaction', target: { seq: 3, id }, emoji: '👍' }), 8, bob, members, gone).kind, 'invalid');
    assert.deepEqual(checkChange(change({ type: 'reaction', target: { seq: 3, id }, emoji: '👍' }), 6, bob, members, gone), { kind: 'stale' });
    assert.equal(checkChange(change({ type: 'delete', target: { seq: 3, id } }), 8, alice, members, gone).kind, 'invalid');
  });

  it('refuses missing targets, other ids, later targets, settings, voice edits and removed members', () => {
    const m = text(3);
    const r = (target: { seq: number; id: string }) => change({ type: 'reaction', target, emoji: '👍' });
    assert.equal(checkChange(r(ref(m)), 5, bob, members, undefined).kind, 'invalid');
    assert.equal(checkChange(r({ seq: 3, id: newContentId() }), 5, bob, members, m).kind, 'invalid');
    assert.equal(checkChange(r(ref(m)), 3, bob, members, m).kind, 'invalid', 'the target must come before the change');
    const settings = record(3, alice, { v: 1, id: newContentId(), sentAt: T0, type: 'settings', disappearAfterMs: null });
    assert.equal(checkChange(r(ref(settings)), 5, bob, members, settings).kind, 'invalid');
    const voice = record(3, alice, {
      v: 1,
      id: newContentId(),
      sentAt: T0,
      type: 'voice',
      blob: { digest: 'a'.repeat(64) as never, key: new Uint8Array(32), nonce: new Uint8Array(12), size: 10 },
      mimeType: 'audio/ogg',
      durationMs: 1000,
      waveform: new Uint8Array(4),
    });
    assert.equal(checkChange(change({ type: 'edit', target: ref(voice), text: 'x' }), 5, alice, members, voice).kind, 'invalid');
    assert.deepEqual(checkChange(change({ type: 'delete', target: ref(voice) }), 5, alice, members, voice), { kind: 'apply' });
    // Bob was removed (or only this device of his): his late messages change nothing.
    const withoutBob = members.filter((x) => x.userId !== bob.userId);
    assert.equal(checkChange(r(ref(m)), 5, bob, withoutBob, m).kind, 'invalid');
    assert.equal(checkChange(change({ type: 'delete', target: ref(m) }), 5, alice, [{ ...members[0] as MemberRecord, devices: [alicePhone.deviceId] }], m).kind, 'invalid');
  });

  it('whatever arrives, the outcome is one of apply / stale / invalid and apply keeps the id (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('reaction', 'edit', 'delete'), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.boolean(), fc.integer({ min: -1e9, max: 3e8 }), (type, tseq, cseq, fromBob, dt) => {
        const m = text(tseq);
        const body = type === 'reaction' ? { emoji: '👍' } : type === 'edit' ? { text: 'x' } : {};
        const c = change({ type, target: ref(m), ...body }, T0 + dt);
        const v = checkChange(c, cseq, fromBob ? bob : alice, members, m);
        if (cseq <= tseq) assert.equal(v.kind, 'invalid');
        if (v.kind === 'apply') assert.equal(applyChange(m, c, cseq, (fromBob ? bob : alice).userId).content.id, m.content.id);
      }),
      { numRuns: 500 },
    );
  });
});
