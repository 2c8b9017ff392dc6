import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { BlobDigest } from '@parley/protocol';
import type { Storage } from '../src/storage/storage.js';
import { account, groupWith, message, NOW, rejectsWith } from './storage-contract-helpers.js';

/** Storage contract, part 4: per-account limits on undelivered message bytes and on blob bytes. */
export function quotaContract(storage: () => Storage): void {
  /** Three members; the group's first commit and Welcome already read and trimmed, so the group holds nothing. */
  async function quiet(s: Storage) {
    const [a, b, c] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
    await s.ack(b.deviceId, gid, 1);
    await s.ack(c.deviceId, gid, 1);
    await s.trim([gid]);
    return { a, b, c, gid };
  }

  it('charges undelivered message bytes to the sending account and refuses past its quota, storing nothing', async () => {
    const s = storage();
    const { a, b, c, gid } = await quiet(s);
    const qa = { userId: a.userId, maxBytes: 1000 };
    await s.appendMessage(message(gid, a.deviceId, 600, { quota: qa }));
    await s.appendMessage(message(gid, a.deviceId, 400, { quota: qa }));
    assert.equal(await s.queuedBytes(a.userId), 1000);
    const before = await s.getGroup(gid);
    const err = await rejectsWith(s.appendMessage(message(gid, a.deviceId, 1, { quota: qa })), 'quota_exceeded');
    assert.deepEqual(err.detail, { quota: 'queued_bytes' });
    assert.deepEqual(await s.getGroup(gid), before, 'no seq taken');
    assert.equal((await s.pendingMessages(b.deviceId, undefined, 10)).length, 2);
    assert.equal(await s.queuedBytes(a.userId), 1000);
    // A message with an attachment takes another path in some adapters: the same refusal.
    const blob = 'e'.repeat(64) as BlobDigest;
    await s.putBlob({ digest: blob, size: 10, keepUntil: NOW });
    const withBlob = await rejectsWith(s.appendMessage(message(gid, a.deviceId, 1, { quota: qa, blobs: [blob] })), 'quota_exceeded');
    assert.deepEqual(withBlob.detail, { quota: 'queued_bytes' });
    assert.deepEqual(await s.getGroup(gid), before);
    await s.appendMessage(message(gid, b.deviceId, 10, { quota: { userId: b.userId, maxBytes: 10 }, blobs: [blob] }));
    assert.equal(await s.queuedBytes(b.userId), 10);
    // Another account has its own allowance; without a quota nothing is charged.
    await s.appendMessage(message(gid, b.deviceId, 700, { quota: { userId: b.userId, maxBytes: 1000 } }));
    await s.appendMessage(message(gid, c.deviceId, 5000));
    assert.equal(await s.queuedBytes(b.userId), 710);
    assert.equal(await s.queuedBytes(c.userId), 0);
  });

  it('holds the quota when many messages of one account arrive at once, across groups', async () => {
    const s = storage();
    const { a, b, gid } = await quiet(s);
    const other = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const quota = { userId: a.userId, maxBytes: 1000 };
    const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => s.appendMessage(message(i % 2 ? other : gid, a.deviceId, 300, { quota }))));
    assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 3);
    for (const r of settled) {
      if (r.status === 'rejected') assert.deepEqual((r.reason as { detail?: unknown }).detail, { quota: 'queued_bytes' });
    }
    assert.equal(await s.queuedBytes(a.userId), 900);
    assert.equal((await s.pendingMessages(b.deviceId, undefined, 100)).filter((m) => m.kind === 'application').length, 3, 'only what was charged is stored');
  });

  it('charges a sender alone in its group only for what stays stored', async () => {
    const s = storage();
    const a = await account(s);
    const solo = await groupWith(s, a.deviceId, [a.deviceId]);
    const quota = { userId: a.userId, maxBytes: 1000 };
    await Promise.all([s.appendMessage(message(solo, a.deviceId, 400, { quota })), s.appendMessage(message(solo, a.deviceId, 400, { quota }))]);
    assert.equal(await s.queuedBytes(a.userId), 0, 'trimmed at once: nobody else to deliver to');
  });

  it('scales every charge in a group by what a trim leaves, and clears them when the group is read', async () => {
    const s = storage();
    const { a, b, c, gid } = await quiet(s);
    const sent: number[] = [];
    for (let i = 0; i < 3; i++) sent.push((await s.appendMessage(message(gid, a.deviceId, 100, { quota: { userId: a.userId, maxBytes: 10_000 } }))).seq);
    sent.push((await s.appendMessage(message(gid, b.deviceId, 100, { quota: { userId: b.userId, maxBytes: 10_000 } }))).seq);
    assert.equal(await s.queuedBytes(a.userId), 300);
    assert.equal(await s.queuedBytes(b.userId), 100);
    const [s1, s2, s3, s4] = sent as [number, number, number, number];
    await s.ack(b.deviceId, gid, s4);
    await s.ack(c.deviceId, gid, s2);
    await s.ack(a.deviceId, gid, s3);
    assert.equal(await s.trim([gid]), 2, `seq ${s1} and ${s2}`);
    assert.equal(await s.queuedBytes(a.userId), 150, 'half the bytes are gone: half of each charge');
    assert.equal(await s.queuedBytes(b.userId), 50);
    await s.ack(c.deviceId, gid, s4);
    await s.ack(a.deviceId, gid, s4);
    assert.equal(await s.trim([gid]), 2);
    assert.equal(await s.queuedBytes(a.userId), 0);
    assert.equal(await s.queuedBytes(b.userId), 0);
  });

  it('charges a commit for its Welcome and GroupInfo too, and refuses it whole past the quota', async () => {
    const s = storage();
    const { a, b, gid } = await quiet(s);
    const d = await account(s);
    const input = {
      groupId: gid,
      senderDevice: a.deviceId,
      quota: { userId: a.userId, maxBytes: 1000 },
      epoch: 1,
      commit: new Uint8Array(100),
      devices: [a.deviceId, b.deviceId, d.deviceId],
      welcome: { to: [d.deviceId], data: new Uint8Array(800) },
      groupInfo: new Uint8Array(101),
      expiresAt: NOW + 1000,
    };
    const err = await rejectsWith(s.appendCommit(input), 'quota_exceeded');
    assert.deepEqual(err.detail, { quota: 'queued_bytes' });
    assert.equal((await s.getGroup(gid))?.epoch, 1);
    assert.deepEqual(await s.pendingWelcomes(d.deviceId), []);
    assert.equal(await s.isMember(gid, d.deviceId), false);
    await s.appendCommit({ ...input, groupInfo: new Uint8Array(100) });
    assert.equal(await s.queuedBytes(a.userId), 1000);
  });

  it('releases charges when messages expire, a device leaves or is revoked', async () => {
    const s = storage();
    const { a, b, c, gid } = await quiet(s);
    const quota = { userId: a.userId, maxBytes: 10_000 };
    await s.appendMessage(message(gid, a.deviceId, 100, { quota, expiresAt: NOW + 10 }));
    await s.appendMessage(message(gid, a.deviceId, 100, { quota, expiresAt: NOW + 20 }));
    assert.equal((await s.sweep(NOW + 10)).messages, 1);
    assert.equal(await s.queuedBytes(a.userId), 100);
    const last = await s.appendMessage(message(gid, a.deviceId, 300, { quota }));
    assert.equal(await s.queuedBytes(a.userId), 400);
    // b read everything; c holds the log back until it leaves.
    await s.ack(b.deviceId, gid, last.seq);
    await s.leaveGroup(gid, c.deviceId);
    assert.equal(await s.queuedBytes(a.userId), 0);
    const other = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    await s.appendMessage(message(other, a.deviceId, 50, { quota }));
    assert.ok((await s.queuedBytes(a.userId)) >= 50);
    await s.revokeDevice(b.deviceId, NOW);
    assert.equal(await s.queuedBytes(a.userId), 0, 'nobody left to read the other group');
  });

  it('counts blob uploads per account over a window, charging a digest already stored nothing', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const digest = (ch: string) => ch.repeat(64) as BlobDigest;
    const window = 3 * 86400;
    const quota = { userId: a.userId, maxBytes: 1000, windowSeconds: window };
    await s.putBlob({ digest: digest('a'), size: 600, keepUntil: NOW + 100 }, quota, NOW);
    await s.putBlob({ digest: digest('a'), size: 600, keepUntil: NOW + 200 }, quota, NOW);
    assert.equal(await s.blobUsage(a.userId, window, NOW), 600);
    assert.equal((await s.getBlob(digest('a')))?.keepUntil, NOW + 200);
    const err = await rejectsWith(s.putBlob({ digest: digest('b'), size: 401, keepUntil: NOW + 100 }, quota, NOW), 'quota_exceeded');
    assert.deepEqual(err.detail, { quota: 'blob_bytes' });
    assert.equal(await s.getBlob(digest('b')), undefined, 'nothing stored');
    assert.equal(await s.blobUsage(a.userId, window, NOW), 600);
    await s.putBlob({ digest: digest('b'), size: 400, keepUntil: NOW + 100 }, quota, NOW + 86400);
    assert.equal(await s.blobUsage(a.userId, window, NOW + 86400), 1000);
    // Someone else's upload of a digest a stored costs a nothing and b nothing.
    await s.putBlob({ digest: digest('b'), size: 400, keepUntil: NOW + 100 }, { ...quota, userId: b.userId }, NOW);
    assert.equal(await s.blobUsage(b.userId, window, NOW), 0);
    // Old days stop counting once the window has passed them, and are swept.
    const later = NOW + 86400 + window + 86400;
    assert.equal(await s.blobUsage(a.userId, window, later), 0);
    await s.putBlob({ digest: digest('c'), size: 1000, keepUntil: later + 100 }, quota, later);
    await s.sweep(later);
    assert.equal(await s.blobUsage(a.userId, 100 * 86400, later), 1000, 'only the bucket that still counts is left');
    // Without a quota nothing is counted.
    await s.putBlob({ digest: digest('d'), size: 5000, keepUntil: NOW }, undefined, NOW);
    assert.equal(await s.blobUsage(a.userId, window, later), 1000);
    assert.equal((await s.getBlob(digest('d')))?.size, 5000);
  });
}
