import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { DeviceId, UserId } from '@parley/protocol';
import type { Storage } from '../src/storage/storage.js';
import { account, extraDevice, groupWith, id, kp, message, NOW, pending, pendingDevice, rejectsWith } from './storage-contract-helpers.js';

const SIG = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

/** Storage contract, part 2: device states, links, sessions, challenges, identity reset, password. */
export function identityContract(storage: () => Storage): void {
  it('keeps revoked devices listed with their key and the time of revocation', async () => {
    const s = storage();
    const a = await account(s);
    const phone = await extraDevice(s, a.userId);
    const before = await s.getDevice(phone);
    assert.equal(before?.status, 'active');
    assert.equal(before?.revoked, false);
    assert.equal(before?.revokedAt, null);
    await s.revokeDevice(phone, NOW + 3600);
    await s.revokeDevice(phone, NOW + 7200);
    const after = await s.getDevice(phone);
    assert.deepEqual(after?.signatureKey, before?.signatureKey, 'the key stays');
    assert.equal(after?.revokedAt, NOW + 3600, 'a second revocation keeps the first time');
    const listed = await s.listDevices(a.userId);
    assert.deepEqual(
      listed.map((d) => [d.id, d.status]),
      [
        [a.deviceId, 'active'],
        [phone, 'revoked'],
      ],
    );
  });

  it('stores an encrypted device name only for a pending or active device of the same user', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const phone = await extraDevice(s, a.userId);
    const p = await pendingDevice(s, a.userId);
    assert.equal((await s.getDevice(a.deviceId))?.name, null, 'added without a name');
    assert.equal(await s.setDeviceName(a.userId, a.deviceId, 'c2VhbGVkLWxhcHRvcA'), true);
    assert.equal(await s.setDeviceName(a.userId, p.deviceId, 'c2VhbGVkLXRhYmxldA'), true, 'a pending device too');
    assert.equal(await s.setDeviceName(a.userId, a.deviceId, 'c2VhbGVkLWFnYWlu'), true, 'replaced');
    assert.equal(await s.setDeviceName(b.userId, a.deviceId, 'c3RyYW5nZXI'), false, "another user's device");
    assert.equal(await s.setDeviceName(a.userId, id() as DeviceId, 'bm9ib2R5'), false, 'an unknown device');
    await s.revokeDevice(phone, NOW);
    assert.equal(await s.setDeviceName(a.userId, phone, 'cmV2b2tlZA'), false, 'a revoked device');
    const names = new Map((await s.listDevices(a.userId)).map((d) => [d.id, d.name]));
    assert.deepEqual([names.get(a.deviceId), names.get(p.deviceId), names.get(phone)], ['c2VhbGVkLWFnYWlu', 'c2VhbGVkLXRhYmxldA', null]);
    assert.equal((await s.getPendingLink(a.userId, p.codeHash, NOW))?.device.name, 'c2VhbGVkLXRhYmxldA');
  });

  it('links a pending device: found only by its own user, its code, before expiry; refused everywhere else', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const p = await pendingDevice(s, a.userId);
    const device = await s.getDevice(p.deviceId);
    assert.equal(device?.status, 'pending');
    assert.deepEqual(await s.getSession(p.token, NOW), { userId: a.userId, deviceId: p.deviceId, expiresAt: NOW + 3600, deviceStatus: 'pending' });
    const link = await s.getPendingLink(a.userId, p.codeHash, NOW);
    assert.equal(link?.device.id, p.deviceId);
    assert.equal(link?.device.name, null, 'devices are added without a name');
    assert.equal(link?.expiresAt, p.expiresAt);
    assert.equal(await s.getPendingLink(b.userId, p.codeHash, NOW), undefined, 'another user never finds it');
    assert.equal(await s.getPendingLink(a.userId, randomBytes(32), NOW), undefined);
    assert.equal(await s.getPendingLink(a.userId, p.codeHash, p.expiresAt), undefined, 'expired');
    assert.equal(await s.linkExpiry(p.deviceId, NOW), p.expiresAt);
    assert.equal(await s.linkExpiry(p.deviceId, p.expiresAt), undefined);
    assert.equal(await s.linkExpiry(a.deviceId, NOW), undefined, 'an active device has no link');
    // A pending device gets no further session, stores no key packages, joins no group.
    await rejectsWith(s.addSession(a.userId, p.deviceId, { tokenHash: randomBytes(32), expiresAt: NOW + 10 }), 'device_pending');
    await rejectsWith(s.addKeyPackages(p.deviceId, [kp(1)], kp(2), 10, NOW), 'device_pending');
    assert.deepEqual(await s.claimKeyPackages([p.deviceId], NOW), []);
    const gid = await groupWith(s, a.deviceId, [a.deviceId]);
    await rejectsWith(
      s.appendCommit({ groupId: gid, senderDevice: a.deviceId, epoch: 1, commit: Uint8Array.of(1), devices: [a.deviceId, p.deviceId], welcome: { to: [p.deviceId], data: Uint8Array.of(2) }, expiresAt: NOW + 10 }),
      'invalid_membership',
    );
    // A taken device id leaves nothing behind; so does an unknown user.
    const token = randomBytes(32);
    await rejectsWith(
      s.addPendingDevice(a.userId, { id: p.deviceId, signatureKey: randomBytes(32) }, '2026-11-29', { tokenHash: token, expiresAt: NOW + 10 }, { codeHash: randomBytes(32), expiresAt: NOW + 600 }),
      'device_exists',
    );
    assert.equal(await s.getSession(token, NOW), undefined);
    await rejectsWith(
      s.addPendingDevice(id() as UserId, { id: id() as DeviceId, signatureKey: randomBytes(32) }, '2026-11-29', { tokenHash: token, expiresAt: NOW + 10 }, { codeHash: randomBytes(32), expiresAt: NOW + 600 }),
      'not_found',
    );
    assert.equal(await s.getSession(token, NOW), undefined);
  });

  it('activates a pending device only on approval by an active device of the same user while the link is live', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const p = await pendingDevice(s, a.userId);
    await rejectsWith(s.approveDevice(p.deviceId, b.deviceId, NOW, SIG), 'not_found');
    const other = await pendingDevice(s, a.userId);
    await rejectsWith(s.approveDevice(p.deviceId, other.deviceId, NOW, SIG), 'not_found');
    await rejectsWith(s.approveDevice(p.deviceId, a.deviceId, p.expiresAt, SIG), 'not_found');
    const refused = await s.getDevice(p.deviceId);
    assert.equal(refused?.status, 'pending', 'refused approvals change nothing');
    assert.equal(refused?.approvedBy, null);
    assert.equal(refused?.approval, null);
    const registered = await s.getDevice(a.deviceId);
    assert.deepEqual([registered?.approvedBy, registered?.approval], [null, null], 'a registered device has no approval');
    await s.approveDevice(p.deviceId, a.deviceId, NOW, SIG);
    const approved = await s.getDevice(p.deviceId);
    assert.equal(approved?.status, 'active');
    assert.equal(approved?.approvedBy, a.deviceId, 'the approver is kept');
    assert.deepEqual(approved?.approval, SIG, 'and its signature, byte for byte');
    const listed = (await s.listDevices(a.userId)).find((d) => d.id === p.deviceId);
    assert.deepEqual([listed?.approvedBy, listed?.approval], [a.deviceId, SIG]);
    assert.equal((await s.getSession(p.token, NOW))?.deviceStatus, 'active');
    assert.equal(await s.getPendingLink(a.userId, p.codeHash, NOW), undefined, 'the link is gone');
    assert.equal(await s.linkExpiry(p.deviceId, NOW), undefined);
    await rejectsWith(s.approveDevice(p.deviceId, a.deviceId, NOW, SIG), 'not_found');
    await s.addSession(a.userId, p.deviceId, { tokenHash: randomBytes(32), expiresAt: NOW + 10 });
    assert.deepEqual(await s.addKeyPackages(p.deviceId, [kp(1)], undefined, 10, NOW), { available: 1, lastResort: false });
    // A revoked device approves nothing.
    await s.revokeDevice(a.deviceId, NOW);
    const still = await s.getDevice(p.deviceId);
    assert.deepEqual([still?.approvedBy, still?.approval], [a.deviceId, SIG], 'the approval outlives its approver');
    const third = await pendingDevice(s, a.userId);
    await rejectsWith(s.approveDevice(third.deviceId, a.deviceId, NOW, SIG), 'not_found');
  });

  it('rejects a pending device by deleting it (never listed, not even as revoked), and sweeps those whose link expired', async () => {
    const s = storage();
    const a = await account(s);
    const rejected = await pendingDevice(s, a.userId);
    await s.revokeDevice(rejected.deviceId, NOW + 3600);
    assert.equal(await s.getDevice(rejected.deviceId), undefined, 'a key registered with the password alone leaves no device behind');
    assert.deepEqual((await s.listDevices(a.userId)).map((d) => d.id), [a.deviceId]);
    assert.equal(await s.getSession(rejected.token, NOW), undefined);
    assert.equal(await s.getPendingLink(a.userId, rejected.codeHash, NOW), undefined);
    await rejectsWith(s.approveDevice(rejected.deviceId, a.deviceId, NOW, SIG), 'not_found');

    const stale = await pendingDevice(s, a.userId);
    const swept = await s.sweep(stale.expiresAt);
    assert.equal(swept.pendingDevices, 1);
    assert.equal(await s.getDevice(stale.deviceId), undefined, 'an expired link deletes its pending device');
    assert.equal(await s.getSession(stale.token, NOW), undefined, 'its session goes with it');
    assert.equal((await s.getSession(a.token, NOW))?.deviceStatus, 'active', 'the active device is untouched');
    assert.equal((await s.sweep(stale.expiresAt)).pendingDevices, 0);
  });

  it('consumes a sign-in challenge once, for its device, before expiry', async () => {
    const s = storage();
    const a = await account(s);
    const c1 = randomBytes(32);
    await s.putChallenge(c1, a.deviceId, NOW + 60);
    assert.equal(await s.takeChallenge(c1, a.deviceId, NOW), true);
    assert.equal(await s.takeChallenge(c1, a.deviceId, NOW), false, 'single use');
    const c2 = randomBytes(32);
    await s.putChallenge(c2, a.deviceId, NOW + 60);
    assert.equal(await s.takeChallenge(c2, id() as DeviceId, NOW), false, 'bound to its device');
    assert.equal(await s.takeChallenge(c2, a.deviceId, NOW), false, 'and gone after a wrong try');
    const c3 = randomBytes(32);
    await s.putChallenge(c3, a.deviceId, NOW + 60);
    assert.equal(await s.takeChallenge(c3, a.deviceId, NOW + 60), false, 'expired');
    // Challenges may name devices that do not exist (issuing one reveals nothing); expired ones are swept.
    await s.putChallenge(randomBytes(32), id() as DeviceId, NOW + 60);
    await s.putChallenge(randomBytes(32), a.deviceId, NOW + 600);
    assert.equal(await s.takeChallenge(randomBytes(32), a.deviceId, NOW), false);
    assert.equal((await s.sweep(NOW + 61)).challenges, 1);
  });

  it('starts over: every old device revoked, a new active one, atomically', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const phone = await extraDevice(s, a.userId);
    const p = await pendingDevice(s, a.userId);
    const old = await extraDevice(s, a.userId);
    await s.revokeDevice(old, NOW - 3600);
    await s.addKeyPackages(phone, [kp(1)], kp(2), 10, NOW);
    const gid = await groupWith(s, b.deviceId, [b.deviceId, a.deviceId, phone]);
    await s.appendMessage(message(gid, b.deviceId));
    // A taken device id: nothing happens at all.
    await rejectsWith(s.resetIdentity(a.userId, { id: b.deviceId, signatureKey: randomBytes(32) }, '2026-11-30', { tokenHash: randomBytes(32), expiresAt: NOW + 10 }, NOW), 'device_exists');
    assert.equal((await s.getDevice(phone))?.status, 'active');
    assert.equal(await s.isMember(gid, phone), true);

    const fresh = id() as DeviceId;
    const token = randomBytes(32);
    const result = await s.resetIdentity(a.userId, { id: fresh, signatureKey: randomBytes(32) }, '2026-11-30', { tokenHash: token, expiresAt: NOW + 10 }, NOW + 3600);
    assert.deepEqual([...result.revoked].sort(), [a.deviceId, phone, p.deviceId].sort());
    assert.deepEqual(result.groups, [gid]);
    const devices = await s.listDevices(a.userId);
    assert.deepEqual(
      devices.map((d) => [d.id, d.status, d.revokedAt]),
      [
        [a.deviceId, 'revoked', NOW + 3600],
        [phone, 'revoked', NOW + 3600],
        [old, 'revoked', NOW - 3600],
        [fresh, 'active', null],
      ],
    );
    assert.equal(await s.getSession(a.token, NOW), undefined);
    assert.equal(await s.getSession(p.token, NOW), undefined);
    assert.equal((await s.getSession(token, NOW))?.deviceId, fresh);
    assert.deepEqual(await s.groupDevices(gid), [b.deviceId]);
    assert.deepEqual(await pending(s, phone), []);
    assert.deepEqual(await s.countKeyPackages(phone, NOW), { available: 0, lastResort: false });
    await rejectsWith(s.resetIdentity(id() as UserId, { id: id() as DeviceId, signatureKey: randomBytes(32) }, '2026-11-30', { tokenHash: randomBytes(32), expiresAt: NOW + 10 }, NOW), 'not_found');
  });

  it('changes a password and signs out none, all, or all but one session', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const t2 = randomBytes(32);
    await extraDevice(s, a.userId, t2);
    await s.setPassword(a.userId, 'hash-2', 'none');
    assert.equal((await s.getUserById(a.userId))?.passwordHash, 'hash-2');
    assert.ok(await s.getSession(a.token, NOW));
    assert.ok(await s.getSession(t2, NOW));
    await s.setPassword(a.userId, 'hash-3', { except: t2 });
    assert.equal(await s.getSession(a.token, NOW), undefined);
    assert.ok(await s.getSession(t2, NOW));
    await s.setPassword(a.userId, 'hash-4', 'all');
    assert.equal(await s.getSession(t2, NOW), undefined);
    assert.equal((await s.getUserById(a.userId))?.passwordHash, 'hash-4');
    assert.ok(await s.getSession(b.token, NOW), "other users' sessions stay");
    assert.equal((await s.getUserById(b.userId))?.passwordHash, 'hash');
    await rejectsWith(s.setPassword(id() as UserId, 'h', 'all'), 'not_found');
  });

  it('hands out a last-resort package only to devices allowed one', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    await s.addKeyPackages(a.deviceId, [], kp(90), 10, NOW);
    await s.addKeyPackages(b.deviceId, [kp(1)], kp(91), 10, NOW);
    const none = new Set<DeviceId>();
    const claimed = await s.claimKeyPackages([a.deviceId, b.deviceId], NOW, { lastResortAllowed: none });
    assert.deepEqual(
      claimed.map((c) => [c.deviceId, c.lastResort]),
      [[b.deviceId, false]],
      'single-use packages need no allowance',
    );
    assert.deepEqual(await s.claimKeyPackages([a.deviceId, b.deviceId], NOW, { lastResortAllowed: none }), []);
    const onlyA = await s.claimKeyPackages([a.deviceId, b.deviceId], NOW, { lastResortAllowed: new Set([a.deviceId]) });
    assert.deepEqual(onlyA.map((c) => [c.deviceId, c.lastResort, c.data]), [[a.deviceId, true, kp(90).data]]);
    assert.equal((await s.claimKeyPackages([b.deviceId], NOW)).length, 1, 'without options, as before');
    await s.revokeDevice(b.deviceId, NOW);
    assert.deepEqual(await s.claimKeyPackages([b.deviceId], NOW), []);
  });

  it('deletes an account: devices revoked and out of every group, secrets gone, the name held by its hash; the rest purged after the hold', async () => {
    const s = storage();
    const a = await account(s, 'dora');
    const b = await account(s);
    const phone = await extraDevice(s, a.userId);
    const p = await pendingDevice(s, a.userId);
    await s.setDeviceName(a.userId, a.deviceId, 'c2VhbGVkLWxhcHRvcA');
    await s.addKeyPackages(a.deviceId, [kp(1), kp(2)], kp(3), 10, NOW);
    const g = await groupWith(s, b.deviceId, [b.deviceId, a.deviceId, phone]);
    await s.appendMessage(message(g, a.deviceId, 10, { quota: { userId: a.userId, maxBytes: 1_000_000 } }));
    const hold = { nameHash: randomBytes(32), until: NOW + 30 * 86400 };
    const { revoked, groups } = await s.deleteAccount(a.userId, NOW + 3600, hold);
    assert.deepEqual([...revoked].sort(), [a.deviceId, phone, p.deviceId].sort(), 'every device, the pending one too (deleted outright)');
    assert.deepEqual(groups, [g]);
    assert.deepEqual(await s.groupDevices(g), [b.deviceId]);
    assert.equal(await s.getSession(a.token, NOW), undefined);
    assert.equal(await s.getSession(p.token, NOW), undefined);
    assert.equal(await s.getDevice(p.deviceId), undefined);
    assert.deepEqual(await s.claimKeyPackages([a.deviceId], NOW), []);
    assert.equal(await s.queuedBytes(a.userId), 0);
    assert.equal(await s.getUserByUsername('dora'), undefined);
    assert.equal(await s.skeletonTaken('sk-dora'), false, 'the skeleton is free in users; the hold keeps it');
    const user = await s.getUserById(a.userId);
    assert.equal(user?.passwordHash, '');
    assert.ok(user && !user.username.includes('dora'));
    const left = await s.listDevices(a.userId);
    assert.deepEqual(
      left.map((d) => [d.status, d.name, d.revokedAt]),
      [
        ['revoked', null, NOW + 3600],
        ['revoked', null, NOW + 3600],
      ],
      'only ids, keys and the revocation time stay, so contacts can remove the devices',
    );
    assert.equal(await s.usernameHeld(hold.nameHash, NOW), true);
    assert.equal(await s.usernameHeld(randomBytes(32), NOW), false);
    await rejectsWith(s.deleteAccount(a.userId, NOW, hold), 'not_found');
    await rejectsWith(s.deleteAccount(id() as UserId, NOW, hold), 'not_found');
    // b is untouched
    assert.equal((await s.getSession(b.token, NOW))?.userId, b.userId);

    assert.equal((await s.sweep(hold.until - 1)).accounts, 0);
    assert.equal(await s.usernameHeld(hold.nameHash, hold.until - 1), true);
    assert.equal((await s.sweep(hold.until)).accounts, 1);
    assert.equal(await s.usernameHeld(hold.nameHash, hold.until - 1), false, 'the hold itself is gone');
    assert.equal(await s.getUserById(a.userId), undefined);
    assert.deepEqual(await s.listDevices(a.userId), []);
    assert.equal(await s.getDevice(phone), undefined);
    // the group carries on without them
    assert.equal((await s.appendMessage(message(g, b.deviceId))).recipients.length, 0);
  });
}
