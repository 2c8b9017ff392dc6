import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, beforeEach, afterEach } from 'node:test';
import type { BlobDigest, DeviceId, GroupId, UserId } from '@parley/protocol';
import { StorageError, type Storage } from '../src/storage/storage.js';
import { identityContract } from './storage-contract-identity.js';
import { membershipContract } from './storage-contract-membership.js';
import { privacyContract } from './storage-contract-privacy.js';
import { profileContract } from './storage-contract-profiles.js';
import { pushContract } from './storage-contract-push.js';
import { quotaContract } from './storage-contract-quotas.js';
import { retentionContract } from './storage-contract-retention.js';
import { account, extraDevice, groupWith, id, kp, NOW, pending, rejectsWith, type StorageFixture } from './storage-contract-helpers.js';

export { account, groupWith, NOW, rejectsWith, type StorageFixture } from './storage-contract-helpers.js';

/**
 * The storage contract: every adapter (SQLite, PostgreSQL) must pass exactly
 * these tests (and those of storage-contract-identity, -membership,
 * -quotas, -privacy, -retention, -profiles and -push, run from here). Each test gets a fresh, migrated, empty storage.
 */

export function storageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fx: StorageFixture;
    let s: Storage;
    beforeEach(async () => {
      fx = await make();
      s = fx.storage;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('migrate is idempotent and health is ok', async () => {
      await s.migrate();
      const h = await s.health();
      assert.equal(h.ok, true);
      assert.equal(h.kind, s.kind);
    });

    it('creates an account atomically and refuses a taken username or skeleton', async () => {
      const a = await account(s, 'alice');
      const u = await s.getUserByUsername('alice');
      assert.equal(u?.id, a.userId);
      assert.equal((await s.getUserById(a.userId))?.username, 'alice');
      assert.equal(await s.skeletonTaken('sk-alice'), true);
      await rejectsWith(account(s, 'alice'), 'username_taken');
      // a failed registration leaves no device or session behind
      const devicesBefore = await s.listDevices(a.userId);
      assert.equal(devicesBefore.length, 1);
      const session = await s.getSession(a.token, NOW);
      assert.deepEqual(session, { userId: a.userId, deviceId: a.deviceId, expiresAt: NOW + 3600, deviceStatus: 'active' });
      // an account may start without a device (created by an administrator)
      const bare = id() as UserId;
      await s.createAccount({ id: bare, username: 'bob', skeleton: 'sk-bob', passwordHash: 'h', createdDay: '2026-11-28' }, undefined, undefined);
      assert.deepEqual(await s.listDevices(bare), []);
    });

    it('sessions expire and can be deleted', async () => {
      const a = await account(s);
      assert.equal(await s.getSession(a.token, NOW + 3600), undefined);
      assert.ok(await s.getSession(a.token, NOW));
      await s.deleteSession(a.token);
      assert.equal(await s.getSession(a.token, NOW), undefined);
    });

    it('adds devices and sessions; revocation kills sessions, packages, mailbox and memberships', async () => {
      const a = await account(s);
      const b = await account(s);
      const phone = await extraDevice(s, a.userId);
      const devices = await s.listDevices(a.userId);
      assert.deepEqual(devices.map((d) => d.id).sort(), [a.deviceId, phone].sort());
      const tok = randomBytes(32);
      await s.addSession(a.userId, phone, { tokenHash: tok, expiresAt: NOW + 10 });
      await rejectsWith(s.addSession(b.userId, phone, { tokenHash: randomBytes(32), expiresAt: NOW + 10 }), 'not_found');
      await s.addKeyPackages(phone, [kp(1)], undefined, 100, NOW);
      const gid = await groupWith(s, b.deviceId, [b.deviceId, a.deviceId, phone]);
      await s.appendMessage({ groupId: gid, senderDevice: b.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW });
      assert.equal((await pending(s, phone)).length, 2);
      const groups = await s.revokeDevice(phone, NOW + 3600);
      assert.deepEqual(groups, [gid]);
      const revoked = await s.getDevice(phone);
      assert.equal(revoked?.revoked, true);
      assert.equal(revoked?.status, 'revoked');
      assert.equal(revoked?.revokedAt, NOW + 3600);
      assert.equal(await s.getSession(tok, NOW), undefined);
      assert.deepEqual(await s.countKeyPackages(phone, NOW), { available: 0, lastResort: false });
      assert.equal((await pending(s, phone)).length, 0);
      assert.equal(await s.isMember(gid, phone), false);
      await rejectsWith(s.addSession(a.userId, phone, { tokenHash: randomBytes(32), expiresAt: NOW + 10 }), 'device_revoked');
      await rejectsWith(s.revokeDevice(id() as DeviceId, NOW), 'not_found');
    });

    it('hands out each key package once and falls back to the last-resort package', async () => {
      const a = await account(s);
      const count = await s.addKeyPackages(a.deviceId, [kp(1), kp(2)], kp(99), 100, NOW);
      assert.deepEqual(count, { available: 2, lastResort: true });
      const c1 = await s.claimKeyPackages([a.deviceId], NOW);
      const c2 = await s.claimKeyPackages([a.deviceId], NOW);
      const c3 = await s.claimKeyPackages([a.deviceId], NOW);
      const c4 = await s.claimKeyPackages([a.deviceId], NOW);
      assert.deepEqual([c1, c2, c3, c4].map((c) => c[0]?.lastResort), [false, false, true, true]);
      assert.notDeepEqual(c1[0]?.data, c2[0]?.data);
      assert.deepEqual(c3[0]?.data, kp(99).data);
      assert.deepEqual(await s.countKeyPackages(a.deviceId, NOW), { available: 0, lastResort: true });
      // expired packages are never handed out
      await s.addKeyPackages(a.deviceId, [{ ...kp(5), expiresAt: NOW - 1 }], undefined, 100, NOW);
      assert.equal((await s.claimKeyPackages([a.deviceId], NOW))[0]?.lastResort, true);
      // unknown devices are left out; the stock cap holds
      assert.deepEqual(await s.claimKeyPackages([id() as DeviceId], NOW), []);
      await rejectsWith(s.addKeyPackages(a.deviceId, [kp(1), kp(2), kp(3)], undefined, 2, NOW), 'too_many_key_packages');
    });

    it('lets expired key packages neither count against the cap nor stay stored once the device uploads again', async () => {
      const a = await account(s);
      await s.addKeyPackages(a.deviceId, [{ ...kp(1), expiresAt: NOW + 10 }, { ...kp(2), expiresAt: NOW + 10 }], { ...kp(9), expiresAt: NOW + 10 }, 2, NOW);
      await rejectsWith(s.addKeyPackages(a.deviceId, [kp(3)], undefined, 2, NOW + 5), 'too_many_key_packages');
      // Later, all three have expired: a fresh stock fits under the same cap, and the expired ones are gone.
      const count = await s.addKeyPackages(a.deviceId, [kp(3), kp(4)], undefined, 2, NOW + 20);
      assert.deepEqual(count, { available: 2, lastResort: false });
      assert.deepEqual(await s.countKeyPackages(a.deviceId, 0), { available: 2, lastResort: false }, 'nothing expired is left behind');
    });

    it('never hands out the same key package twice under concurrent claims', async () => {
      const a = await account(s);
      const packages = Array.from({ length: 40 }, (_, i) => kp(i + 1));
      await s.addKeyPackages(a.deviceId, packages, undefined, 100, NOW);
      const claims = await Promise.all(Array.from({ length: 60 }, () => s.claimKeyPackages([a.deviceId], NOW)));
      const handed = claims.flat().map((c) => Buffer.from(c.data).toString('hex'));
      assert.equal(handed.length, 40);
      assert.equal(new Set(handed).size, 40);
    });

    it('creates groups and refuses duplicates', async () => {
      const a = await account(s);
      const gid = id() as GroupId;
      assert.deepEqual(await s.createGroup(gid, a.deviceId), { id: gid, epoch: 0, lastSeq: 0 });
      await rejectsWith(s.createGroup(gid, a.deviceId), 'group_exists');
      assert.deepEqual(await s.groupDevices(gid), [a.deviceId]);
      assert.equal(await s.isMember(gid, a.deviceId), true);
      assert.deepEqual((await s.groupsOfDevice(a.deviceId)).map((g) => g.id), [gid]);
      assert.equal(await s.getGroup(id() as GroupId), undefined);
    });

    it('orders messages with a gap-free sequence and fans out to other members', async () => {
      const a = await account(s);
      const b = await account(s);
      const c = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
      assert.deepEqual((await s.groupDevices(gid)).sort(), [a.deviceId, b.deviceId, c.deviceId].sort());
      const g = await s.getGroup(gid);
      assert.deepEqual(g, { id: gid, epoch: 1, lastSeq: 1 });
      assert.deepEqual(await s.getGroupInfo(gid), Uint8Array.of(4, 4));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s.appendMessage({ groupId: gid, senderDevice: i % 2 ? b.deviceId : a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(i), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW }),
        ),
      );
      assert.deepEqual(results.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 2));
      const r0 = results[0];
      assert.ok(r0);
      assert.deepEqual(r0.recipients.sort(), [b.deviceId, c.deviceId].sort());
      // c got the welcome (seq 1) and then all 20 messages, in order
      const all = await pending(s, c.deviceId);
      assert.equal(all.length, 21);
      assert.equal(all[0]?.kind, 'welcome');
      assert.deepEqual(all[0]?.parts, [Uint8Array.of(9, 9), Uint8Array.of(4, 4)]);
      assert.deepEqual(all.map((m) => m.seq), Array.from({ length: 21 }, (_, i) => i + 1));
      // paging by (group, seq)
      const first = await s.pendingMessages(c.deviceId, undefined, 5);
      assert.deepEqual(first.map((m) => m.seq), [2, 3, 4, 5, 6]);
      const next = await s.pendingMessages(c.deviceId, { groupId: gid, seq: 6 }, 100);
      assert.equal(next[0]?.seq, 7);
      assert.equal(next.length, 15);
      // a gets everything b sent (its own messages may be in its backlog too, after its cursor)
      const forA = await s.pendingMessages(a.deviceId, undefined, 100);
      const fromB = results.filter((_, i) => i % 2 === 1).map((r) => r.seq);
      for (const seq of fromB) assert.ok(forA.some((m) => m.seq === seq), `a misses seq ${seq}`);
      assert.ok(forA.every((m) => m.seq > 1));
    });

    it('orders backlogs across groups by group, then seq', async () => {
      const a = await account(s);
      const b = await account(s);
      const g1 = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      const g2 = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      for (let i = 0; i < 3; i++) {
        for (const g of [g1, g2]) {
          await s.appendMessage({ groupId: g, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(i), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW });
        }
      }
      const [lo, hi] = [g1, g2].sort();
      const got = await s.pendingMessages(b.deviceId, undefined, 100);
      assert.deepEqual(got.map((m) => `${m.groupId === lo ? 'lo' : 'hi'}${m.seq}`), ['lo2', 'lo3', 'lo4', 'hi2', 'hi3', 'hi4']);
      assert.equal(hi !== undefined, true);
      const welcomes = await s.pendingWelcomes(b.deviceId);
      assert.equal(welcomes.length, 2);
      await s.ack(b.deviceId, g1, 1);
      assert.equal((await s.pendingWelcomes(b.deviceId)).length, 1, 'acknowledging the welcome seq drops it');
      assert.equal((await s.pendingMessages(a.deviceId, undefined, 100)).length, 0, "the sender's cursor moved past its own messages");
    });

    it('refuses non-members and unknown groups', async () => {
      const a = await account(s);
      const x = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId]);
      await rejectsWith(s.appendMessage({ groupId: gid, senderDevice: x.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW, blobKeepUntil: NOW }), 'not_member');
      await rejectsWith(s.appendCommit({ groupId: gid, senderDevice: x.deviceId, epoch: 1, commit: Uint8Array.of(1), devices: [x.deviceId], expiresAt: NOW }), 'not_member');
      await rejectsWith(s.appendMessage({ groupId: id() as GroupId, senderDevice: a.deviceId, kind: 'application', epoch: 0, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW, blobKeepUntil: NOW }), 'not_found');
    });

    it('accepts exactly one of two commits for the same epoch', async () => {
      const a = await account(s);
      const b = await account(s);
      const c = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      const commit = (sender: DeviceId) =>
        s.appendCommit({ groupId: gid, senderDevice: sender, epoch: 1, commit: Uint8Array.of(7), devices: [a.deviceId, b.deviceId, c.deviceId], welcome: { to: [c.deviceId], data: Uint8Array.of(3) }, expiresAt: NOW + 10 });
      const settled = await Promise.allSettled([commit(a.deviceId), commit(b.deviceId)]);
      const ok = settled.filter((r) => r.status === 'fulfilled');
      const failed = settled.filter((r) => r.status === 'rejected');
      assert.equal(ok.length, 1);
      assert.equal(failed.length, 1);
      const reason = (failed[0] as PromiseRejectedResult).reason as unknown;
      assert.ok(reason instanceof StorageError);
      assert.equal(reason.kind, 'epoch_conflict');
      assert.deepEqual(reason.detail, { epoch: 2 });
      assert.equal((await s.getGroup(gid))?.epoch, 2);
      // proposals must match the epoch; application messages may not be from the future
      await rejectsWith(s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'proposal', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW, blobKeepUntil: NOW }), 'epoch_conflict');
      await rejectsWith(s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 3, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW, blobKeepUntil: NOW }), 'epoch_conflict');
      const late = await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW + 5, blobKeepUntil: NOW });
      assert.equal(late.seq, 3);
    });

    it('validates commit membership: committer stays, devices exist, welcomes go to new devices', async () => {
      const a = await account(s);
      const b = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      const base = { groupId: gid, senderDevice: a.deviceId, epoch: 1, commit: Uint8Array.of(1), expiresAt: NOW };
      await rejectsWith(s.appendCommit({ ...base, devices: [b.deviceId] }), 'invalid_membership');
      await rejectsWith(s.appendCommit({ ...base, devices: [a.deviceId, id() as DeviceId] }), 'invalid_membership');
      await rejectsWith(s.appendCommit({ ...base, devices: [a.deviceId, b.deviceId], welcome: { to: [a.deviceId], data: Uint8Array.of(1) } }), 'invalid_membership');
      assert.equal((await s.getGroup(gid))?.epoch, 1, 'failed commits change nothing');
      // removing b: b still gets the commit, then is no longer a member
      const r = await s.appendCommit({ ...base, devices: [a.deviceId] });
      assert.deepEqual(r.recipients, [b.deviceId]);
      assert.equal(await s.isMember(gid, b.deviceId), false);
      const last = (await s.pendingMessages(b.deviceId, undefined, 100)).at(-1);
      assert.equal(last?.kind, 'commit');
      assert.equal(last?.seq, r.seq);
      // later messages do not reach b; once b acknowledges its removal its cursor is gone
      await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 2, payload: Uint8Array.of(5), blobs: [], expiresAt: NOW + 10, blobKeepUntil: NOW });
      assert.equal((await s.pendingMessages(b.deviceId, undefined, 100)).at(-1)?.seq, r.seq);
      await s.ack(b.deviceId, gid, r.seq);
      assert.deepEqual(await s.pendingMessages(b.deviceId, undefined, 100), []);
      assert.equal(await s.trim([gid]), 2, 'nobody needs the commit or the message after it');
      // b can be added again, starting after the commit that adds it
      const again = await s.appendCommit({ ...base, epoch: 2, devices: [a.deviceId, b.deviceId], welcome: { to: [b.deviceId], data: Uint8Array.of(8) } });
      assert.equal(await s.isMember(gid, b.deviceId), true);
      const w = await s.pendingWelcomes(b.deviceId);
      assert.deepEqual(w.map((m) => m.seq), [again.seq]);
      assert.deepEqual(await s.pendingMessages(b.deviceId, undefined, 100), []);
    });

    it('deletes a message once every cursor passed it, cumulatively per group', async () => {
      const a = await account(s);
      const b = await account(s);
      const c = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
      for (let i = 0; i < 5; i++) {
        await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(i), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW });
      }
      await s.ack(b.deviceId, gid, 4);
      assert.equal((await s.pendingMessages(b.deviceId, undefined, 100)).map((m) => m.seq).join(), '5,6');
      await s.ack(b.deviceId, gid, 2);
      assert.equal((await s.pendingMessages(b.deviceId, undefined, 100)).map((m) => m.seq).join(), '5,6', 'cursors never move back');
      assert.equal(await s.trim([gid]), 0, 'c still needs everything');
      assert.equal((await s.pendingMessages(c.deviceId, undefined, 100)).length, 5);
      await s.ack(c.deviceId, gid, 6);
      assert.equal(await s.trim([gid]), 3, 'seq 2-4: acknowledged by b and c, sent by a');
      await s.ack(b.deviceId, gid, 6);
      assert.equal(await s.trim([gid]), 2);
      assert.equal(await s.trim([gid]), 0);
      // nothing is left for the retention sweep
      const swept = await s.sweep(NOW + 1000);
      assert.equal(swept.messages, 0);
    });

    it('deletes unacknowledged messages and welcomes at retention, and expired sessions and packages', async () => {
      const a = await account(s);
      const b = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW + 50, blobKeepUntil: NOW });
      await s.addKeyPackages(b.deviceId, [{ ...kp(1), expiresAt: NOW + 20 }], undefined, 10, NOW);
      assert.equal((await pending(s, b.deviceId)).length, 2);
      const swept = await s.sweep(NOW + 5000);
      assert.equal(swept.messages, 1);
      assert.equal(swept.welcomes, 1);
      assert.equal(swept.keyPackages, 1);
      assert.equal(swept.sessions, 2);
      assert.equal((await pending(s, b.deviceId)).length, 0);
    });

    it('keeps referenced blobs and collects unreferenced ones', async () => {
      const a = await account(s);
      const b = await account(s);
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      const d1 = 'a'.repeat(64) as BlobDigest;
      const d2 = 'b'.repeat(64) as BlobDigest;
      await s.putBlob({ digest: d1, size: 10, keepUntil: NOW });
      await s.putBlob({ digest: d2, size: 20, keepUntil: NOW });
      await s.putBlob({ digest: d2, size: 20, keepUntil: NOW - 100 });
      assert.deepEqual(await s.getBlob(d2), { digest: d2, size: 20, keepUntil: NOW });
      await rejectsWith(s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: ['c'.repeat(64) as BlobDigest], expiresAt: NOW + 50, blobKeepUntil: NOW + 500 }), 'not_found');
      await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [d1], expiresAt: NOW + 50, blobKeepUntil: NOW + 500 });
      assert.equal((await s.getBlob(d1))?.keepUntil, NOW + 500);
      assert.deepEqual(await s.collectableBlobs(NOW + 10, 100), [d2]);
      // referenced by a live message: kept even past keepUntil
      assert.deepEqual(await s.collectableBlobs(NOW + 1000, 100), [d2]);
      await s.ack(b.deviceId, gid, 100);
      await s.trim([gid]);
      assert.deepEqual(await s.collectableBlobs(NOW + 1000, 100), [d1, d2]);
      assert.deepEqual(await s.deleteBlobs([d1, d2]), [d1, d2]);
      assert.equal(await s.getBlob(d1), undefined);
      assert.deepEqual(await s.collectableBlobs(NOW + 1000, 100), []);
    });

    const current = () => s;
    const currentFixture = () => fx;
    identityContract(current);
    membershipContract(current, currentFixture);
    quotaContract(current);
    privacyContract(current, currentFixture);
    retentionContract(current, currentFixture);
    profileContract(current);
    pushContract(current);
  });
}
