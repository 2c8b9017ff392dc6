import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { DeviceId, GroupId } from '@parley/protocol';
import type { AppendCommitInput, Storage } from '../src/storage/storage.js';
import { account, groupWith, id, message, NOW, pending, pendingDevice, rejectsWith, type StorageFixture } from './storage-contract-helpers.js';

/** Storage contract, part 3: who enters a group (only with a Welcome), Welcomes stored once, leaving. */
export function membershipContract(storage: () => Storage, fixture: () => StorageFixture): void {
  const commitOf = (gid: GroupId, sender: DeviceId, epoch: number, devices: DeviceId[], welcomeTo?: DeviceId[]): AppendCommitInput => ({
    groupId: gid,
    senderDevice: sender,
    epoch,
    commit: Uint8Array.of(1, epoch),
    devices,
    welcome: welcomeTo ? { to: welcomeTo, data: Uint8Array.of(5, epoch) } : undefined,
    expiresAt: NOW + 1000,
  });

  it('lets a member device that stays be welcomed again (re-added with a fresh leaf after losing its state): it starts after the commit', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const r = await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId], [b.deviceId]));
    assert.deepEqual(r.welcomeRecipients, [b.deviceId]);
  });

  it('lets a device enter a group only with a Welcome addressed to it, and Welcomes go only to entering devices', async () => {
    const s = storage();
    const [a, b, c, d] = [await account(s), await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const refused: Array<[DeviceId[], DeviceId[] | undefined]> = [
      [[a.deviceId, b.deviceId, c.deviceId], undefined], // no Welcome at all
      [[a.deviceId, b.deviceId, c.deviceId, d.deviceId], [c.deviceId]], // d enters without one
      [[a.deviceId, b.deviceId, c.deviceId], [c.deviceId, d.deviceId]], // d gets one but is not added
      [[a.deviceId, b.deviceId, c.deviceId], [c.deviceId, a.deviceId]], // the committer cannot welcome itself
      [[a.deviceId, b.deviceId], [c.deviceId]],
    ];
    for (const [devices, to] of refused) await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 1, devices, to)), 'invalid_membership');
    const revoked = await account(s);
    await s.revokeDevice(revoked.deviceId, NOW);
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId, revoked.deviceId], [revoked.deviceId])), 'invalid_membership');
    const p = await pendingDevice(s, a.userId);
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId, p.deviceId], [p.deviceId])), 'invalid_membership');
    assert.deepEqual(await s.getGroup(gid), { id: gid, epoch: 1, lastSeq: 1 }, 'refused commits change nothing');
    assert.deepEqual(await pending(s, c.deviceId), []);
    const ok = await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId, c.deviceId, d.deviceId], [d.deviceId, c.deviceId, c.deviceId]));
    assert.deepEqual([...ok.welcomeRecipients].sort(), [c.deviceId, d.deviceId].sort());
    assert.deepEqual(ok.recipients, [b.deviceId]);
    // A commit that adds nobody needs no Welcome.
    const plain = await s.appendCommit(commitOf(gid, b.deviceId, 2, [a.deviceId, b.deviceId, c.deviceId, d.deviceId]));
    assert.deepEqual(plain.welcomeRecipients, []);
  });

  it('stores a Welcome once per commit however many devices it goes to', async () => {
    const s = storage();
    const a = await account(s);
    const others = await Promise.all(Array.from({ length: 40 }, () => account(s)));
    const gid = id() as GroupId;
    await s.createGroup(gid, a.deviceId);
    const welcome = randomBytes(20_000);
    const groupInfo = randomBytes(3_000);
    const to = others.map((o) => o.deviceId);
    const r = await s.appendCommit({ groupId: gid, senderDevice: a.deviceId, epoch: 0, commit: Uint8Array.of(1), devices: [a.deviceId, ...to], welcome: { to, data: welcome }, groupInfo, expiresAt: NOW + 1000 });
    assert.equal(r.welcomeRecipients.length, 40);
    assert.deepEqual(await fixture().welcomeStats(), { welcomes: 1, bytes: welcome.byteLength + groupInfo.byteLength, recipients: 40 });
    for (const o of others) {
      const [w] = await s.pendingWelcomes(o.deviceId);
      assert.deepEqual(w?.parts, [new Uint8Array(welcome), new Uint8Array(groupInfo)]);
      assert.equal(w?.seq, r.seq);
      assert.equal(w?.epoch, 1);
    }
    // Each acknowledgement or revocation drops one reference; the Welcome goes with the last.
    const [first, ...rest] = others;
    assert.ok(first);
    await s.revokeDevice(first.deviceId, NOW);
    for (const o of rest.slice(1)) await s.ack(o.deviceId, gid, r.seq);
    await s.trim([gid]);
    assert.deepEqual(await fixture().welcomeStats(), { welcomes: 1, bytes: welcome.byteLength + groupInfo.byteLength, recipients: 1 });
    const last = rest[0];
    assert.ok(last);
    assert.equal((await s.pendingWelcomes(last.deviceId)).length, 1);
    await s.ack(last.deviceId, gid, r.seq);
    await s.trim([gid]);
    assert.deepEqual(await fixture().welcomeStats(), { welcomes: 0, bytes: 0, recipients: 0 });
  });

  it('keeps only the newest Welcome of a group for a device, and expires Welcomes at retention', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    // b is removed before it read anything, then added again.
    await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId]));
    const again = await s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId, b.deviceId], [b.deviceId]));
    const ws = await s.pendingWelcomes(b.deviceId);
    assert.deepEqual(ws.map((w) => [w.seq, w.parts[0]]), [[again.seq, Uint8Array.of(5, 2)]]);
    await s.trim([gid]);
    assert.deepEqual(await fixture().welcomeStats(), { welcomes: 1, bytes: 2, recipients: 1 }, 'the replaced Welcome was collected');
    const swept = await s.sweep(NOW + 1000);
    assert.equal(swept.welcomes, 1);
    assert.deepEqual(await s.pendingWelcomes(b.deviceId), []);
    assert.deepEqual(await fixture().welcomeStats(), { welcomes: 0, bytes: 0, recipients: 0 });
  });

  it('stops delivery at once when a device leaves, keeps it listed until a commit drops it', async () => {
    const s = storage();
    const [a, b, c, d] = [await account(s), await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
    await s.ack(b.deviceId, gid, 1);
    await s.appendMessage(message(gid, a.deviceId, 10));
    await s.appendMessage(message(gid, a.deviceId, 10));
    assert.equal((await pending(s, c.deviceId)).length, 3, 'Welcome and two messages');
    await s.ack(b.deviceId, gid, 3);
    await s.leaveGroup(gid, c.deviceId);
    assert.equal(await s.isMember(gid, c.deviceId), false);
    assert.deepEqual(await s.groupsOfDevice(c.deviceId), []);
    assert.deepEqual(await pending(s, c.deviceId), []);
    assert.deepEqual((await s.groupDevices(gid)).sort(), [a.deviceId, b.deviceId].sort());
    assert.equal(await s.trim([gid]), 0, 'what only c held back went at once');
    assert.deepEqual(await s.pendingMessages(a.deviceId, undefined, 10), []);
    await rejectsWith(s.appendMessage(message(gid, c.deviceId)), 'not_member');
    await rejectsWith(s.appendCommit(commitOf(gid, c.deviceId, 1, [a.deviceId, b.deviceId, c.deviceId])), 'not_member');
    assert.deepEqual((await s.appendMessage(message(gid, a.deviceId))).recipients, [b.deviceId]);
    await s.leaveGroup(gid, c.deviceId); // again: nothing to stop
    await rejectsWith(s.leaveGroup(gid, d.deviceId), 'not_member');
    await rejectsWith(s.leaveGroup(id() as GroupId, c.deviceId), 'not_member');

    // Still listed: a commit that keeps c does not add it (no Welcome, none allowed) and does not reach it.
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId, c.deviceId], [c.deviceId])), 'invalid_membership');
    const keep = await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, b.deviceId, c.deviceId, d.deviceId], [d.deviceId]));
    assert.deepEqual(keep.recipients, [b.deviceId]);
    assert.deepEqual(await pending(s, c.deviceId), []);
    assert.equal(await s.isMember(gid, c.deviceId), false);
    // A commit that drops c ends the listing: c can be added again, with a Welcome, and reads again.
    await s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId, b.deviceId, d.deviceId]));
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 3, [a.deviceId, b.deviceId, c.deviceId, d.deviceId])), 'invalid_membership');
    const back = await s.appendCommit(commitOf(gid, a.deviceId, 3, [a.deviceId, b.deviceId, c.deviceId, d.deviceId], [c.deviceId]));
    assert.deepEqual(back.welcomeRecipients, [c.deviceId]);
    await s.appendMessage(message(gid, a.deviceId, 1, { epoch: 4 }));
    assert.equal((await pending(s, c.deviceId)).length, 2);
    assert.deepEqual((await s.groupsOfDevice(c.deviceId)).map((g) => g.id), [gid]);
  });

  it('lets a removed device stop reading, and revocation reports a group a departed device is still listed in', async () => {
    const s = storage();
    const [a, b, c] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
    const removal = await s.appendCommit(commitOf(gid, a.deviceId, 1, [a.deviceId, c.deviceId]));
    assert.equal((await s.pendingMessages(b.deviceId, undefined, 10)).at(-1)?.seq, removal.seq);
    await s.leaveGroup(gid, b.deviceId);
    assert.deepEqual(await pending(s, b.deviceId), []);
    // b was no longer listed, so adding it again is an addition
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId, b.deviceId, c.deviceId])), 'invalid_membership');
    await s.leaveGroup(gid, c.deviceId);
    assert.deepEqual(await s.revokeDevice(c.deviceId, NOW), [gid]);
    // revoked: no longer listed, and never to be added again
    await rejectsWith(s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId, c.deviceId])), 'invalid_membership');
    const dropped = await s.appendCommit(commitOf(gid, a.deviceId, 2, [a.deviceId]));
    assert.deepEqual(dropped.recipients, []);
  });
}
