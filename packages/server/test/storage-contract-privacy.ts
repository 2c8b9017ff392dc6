import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { BlobDigest, DeviceId, GroupId } from '@parley/protocol';
import type { AppendCommitInput, Storage } from '../src/storage/storage.js';
import { account, groupWith, message, NO_LEFTOVERS, NOW, pending, rejectsWith, type StorageFixture } from './storage-contract-helpers.js';

/**
 * Storage contract, part 5: what stays stored once it is not needed —
 * delivered messages (delete on delivery, with no later traffic), groups
 * nobody is in any more, GroupInfo no device will ask for.
 */
export function privacyContract(storage: () => Storage, fixture: () => StorageFixture): void {
  const commitOf = (gid: GroupId, sender: DeviceId, epoch: number, devices: DeviceId[], welcomeTo?: DeviceId[], groupInfo?: Uint8Array): AppendCommitInput => ({
    groupId: gid,
    senderDevice: sender,
    epoch,
    commit: Uint8Array.of(1, epoch),
    devices,
    welcome: welcomeTo ? { to: welcomeTo, data: Uint8Array.of(5, epoch) } : undefined,
    groupInfo,
    expiresAt: NOW + 1000,
  });

  for (const attachment of [false, true]) {
    it(`deletes a conversation's messages once every recipient acknowledged them, with no further traffic (reply with a riding ack${attachment ? ', with an attachment' : ''})`, async () => {
      const s = storage();
      const [a, b] = [await account(s), await account(s)];
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      await s.ack(b.deviceId, gid, 1); // b joined from the Welcome at seq 1
      const digest = 'd'.repeat(64) as BlobDigest;
      if (attachment) await s.putBlob({ digest, size: 10, keepUntil: NOW });
      // a had read everything: it sends; b, having read it, replies and acknowledges it on the reply.
      const first = await s.appendMessage(message(gid, a.deviceId));
      const reply = await s.appendMessage(message(gid, b.deviceId, 1, { ack: first.seq, blobs: attachment ? [digest] : [] }));
      assert.equal(reply.seq, first.seq + 1);
      // a reads the reply; nobody sends anything more.
      await s.ack(a.deviceId, gid, reply.seq);
      await s.trim([gid]);
      assert.equal(await fixture().storedMessages(), 0, 'every message was delivered to every device: none is stored');
      assert.deepEqual(await pending(s, a.deviceId), []);
      assert.deepEqual(await pending(s, b.deviceId), []);
      if (attachment) assert.deepEqual(await s.collectableBlobs(NOW + 1, 10), [digest], 'the attachment is no longer referenced');
    });
  }

  it('counts a riding ack even when the message it rides on is refused', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const first = await s.appendMessage(message(gid, a.deviceId));
    await rejectsWith(s.appendMessage(message(gid, b.deviceId, 1, { ack: first.seq, epoch: 9 })), 'epoch_conflict');
    assert.deepEqual(await s.pendingMessages(b.deviceId, undefined, 10), [], 'b acknowledged the first message');
    await s.trim([gid]);
    assert.equal(await fixture().storedMessages(), 0);
  });

  it('moves a sender past its own message only when it had read everything before it', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const first = await s.appendMessage(message(gid, a.deviceId));
    // b replies without acknowledging the first message: its cursor stays before it.
    const reply = await s.appendMessage(message(gid, b.deviceId));
    assert.deepEqual((await s.pendingMessages(b.deviceId, undefined, 10)).map((m) => m.seq), [first.seq, reply.seq]);
    await s.ack(a.deviceId, gid, reply.seq);
    await s.trim([gid]);
    assert.equal(await fixture().storedMessages(), 2, 'b has read neither');
    await s.ack(b.deviceId, gid, reply.seq);
    await s.trim([gid]);
    assert.equal(await fixture().storedMessages(), 0);
  });

  it('deletes a group with everything it holds once every member left or was revoked', async () => {
    const s = storage();
    const [a, b, c] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
    const digest = 'e'.repeat(64) as BlobDigest;
    await s.putBlob({ digest, size: 10, keepUntil: NOW });
    await s.appendMessage(message(gid, a.deviceId, 10, { quota: { userId: a.userId, maxBytes: 10_000 }, blobs: [digest] }));
    await s.leaveGroup(gid, a.deviceId);
    await s.revokeDevice(b.deviceId, NOW);
    const before = await fixture().leftovers(gid);
    assert.equal(before.group, 1, 'c is still in it');
    assert.ok(before.messages > 0 && before.welcomes === 1 && before.departures === 1 && before.charges === 1 && before.blobRefs === 1);
    await s.leaveGroup(gid, c.deviceId);
    assert.deepEqual(await fixture().leftovers(gid), NO_LEFTOVERS);
    assert.equal(await s.getGroup(gid), undefined);
    assert.equal(await s.getGroupInfo(gid), undefined);
    assert.equal(await s.queuedBytes(a.userId), 0);
    assert.deepEqual(await s.collectableBlobs(NOW + 1, 10), [digest]);
    await rejectsWith(s.appendMessage(message(gid, c.deviceId)), 'not_found');
    // Leaving a group that is gone is refused like any group the device is not in.
    await rejectsWith(s.leaveGroup(gid, c.deviceId), 'not_member');
  });

  it('deletes a group whose last member was revoked', async () => {
    const s = storage();
    const a = await account(s);
    const gid = await groupWith(s, a.deviceId, [a.deviceId]);
    assert.equal((await fixture().leftovers(gid)).group, 1);
    assert.deepEqual(await s.revokeDevice(a.deviceId, NOW), [gid]);
    assert.deepEqual(await fixture().leftovers(gid), NO_LEFTOVERS);
  });

  it('keeps a group while a removed device still reads up to its removal, and deletes it after', async () => {
    const s = storage();
    const [a, b, c] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const gid2 = await groupWith(s, a.deviceId, [a.deviceId, c.deviceId]);
    // a removes the other device from each group, then leaves both.
    const removal = await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId]));
    await s.appendCommit(commitOf(gid2, a.deviceId, 1, [a.deviceId]));
    await s.leaveGroup(gid, a.deviceId);
    await s.leaveGroup(gid2, a.deviceId);
    assert.equal((await fixture().leftovers(gid)).group, 1, 'b has not read its removal yet');
    // b reads its removal: the group is nobody's any more.
    await s.ack(b.deviceId, gid, removal.seq);
    await s.trim([gid]);
    assert.deepEqual(await fixture().leftovers(gid), NO_LEFTOVERS);
    // c never reads it: the retention sweep ends its cursor, and the group with it.
    assert.equal((await fixture().leftovers(gid2)).group, 1);
    await s.sweep(NOW + 1000);
    assert.deepEqual(await fixture().leftovers(gid2), NO_LEFTOVERS);
  });

  it('keeps a GroupInfo only while a Welcome waits for a device', async () => {
    const s = storage();
    const [a, b, c] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    assert.deepEqual(await s.getGroupInfo(gid), Uint8Array.of(4, 4), "b's Welcome waits");
    await s.ack(b.deviceId, gid, 1);
    await s.trim([gid]);
    assert.equal(await s.getGroupInfo(gid), undefined, 'b joined: nobody needs it');
    assert.equal((await fixture().leftovers(gid)).groupInfo, 0);
    // A commit that adds nobody does not keep the GroupInfo it carries.
    await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId], undefined, Uint8Array.of(6)));
    assert.equal(await s.getGroupInfo(gid), undefined);
    // One that adds c keeps it until c has its Welcome.
    const add = await s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId, b.deviceId, c.deviceId], [c.deviceId], Uint8Array.of(7)));
    assert.deepEqual(await s.getGroupInfo(gid), Uint8Array.of(7));
    assert.deepEqual((await s.pendingWelcomes(c.deviceId))[0]?.parts, [Uint8Array.of(5, 2), Uint8Array.of(7)]);
    // A later commit while c's Welcome waits keeps one.
    await s.appendCommit(commitOf(gid, a.deviceId, 3, [a.deviceId, b.deviceId, c.deviceId], undefined, Uint8Array.of(8)));
    assert.deepEqual(await s.getGroupInfo(gid), Uint8Array.of(8));
    await s.ack(c.deviceId, gid, add.seq);
    await s.trim([gid]);
    assert.equal(await s.getGroupInfo(gid), undefined);
    const left = await fixture().leftovers(gid);
    assert.deepEqual([left.group, left.groupInfo, left.welcomes, left.recipients], [1, 0, 0, 0]);
  });
}
