import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { BlobDigest, GroupId } from '@parley/protocol';
import type { Storage } from '../src/storage/storage.js';
import { account, groupWith, id, message, NOW, rejectsWith, type StorageFixture } from './storage-contract-helpers.js';

const DAY = 86_400;

/**
 * Storage contract, part 6: per-group retention (disappearing messages). The
 * members set how long the group's application messages are kept at most;
 * enforceRetention lowers their expiry (and their blobs'), the sweep deletes
 * them — also for a device that never came back to read them.
 */
export function retentionContract(storage: () => Storage, fixture: () => StorageFixture): void {
  it('lets a member device set and clear its group retention, newest setting (by seq) first; anyone else learns nothing', async () => {
    const s = storage();
    const [a, b, stranger] = [await account(s), await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    for (let i = 0; i < 3; i++) await s.appendMessage(message(gid, a.deviceId)); // seqs 2, 3, 4
    assert.equal(await s.groupRetention(gid), null, 'none by default');
    assert.equal(await s.setGroupRetention(gid, b.deviceId, 300, 3), 300);
    assert.equal(await s.groupRetention(gid), 300);
    assert.equal(await s.setGroupRetention(gid, a.deviceId, 300, 3), 300, 'the same again: idempotent');
    assert.equal(await s.setGroupRetention(gid, a.deviceId, null, 2), 300, 'an older setting (a device reading history late) changes nothing');
    assert.equal(await s.setGroupRetention(gid, a.deviceId, 3600, 99), 300, 'a seq the group has not reached changes nothing');
    await rejectsWith(s.setGroupRetention(gid, stranger.deviceId, 3600, 4), 'not_member');
    await rejectsWith(s.setGroupRetention(id() as GroupId, a.deviceId, 3600, 4), 'not_found');
    assert.equal(await s.groupRetention(gid), 300, 'a refused change changes nothing');
    assert.equal(await s.groupRetention(id() as GroupId), undefined);
    assert.equal(await s.setGroupRetention(gid, a.deviceId, null, 4), null);
    assert.equal(await s.groupRetention(gid), null);
  });

  it("deletes a group's application messages (and their attachments) older than its retention, for a device that stays offline", async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    const other = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    // A later commit: handshakes keep the default retention (losing one forks an offline device out).
    await s.appendCommit({ groupId: gid, senderDevice: a.deviceId, epoch: 1, commit: Uint8Array.of(1, 1), devices: [a.deviceId, b.deviceId], expiresAt: NOW + 30 * DAY });
    const digest = 'f'.repeat(64) as BlobDigest;
    await s.putBlob({ digest, size: 10, keepUntil: NOW + 3 * DAY });
    const sent = await s.appendMessage(message(gid, a.deviceId, 4, { epoch: 2, blobs: [digest], expiresAt: NOW + 30 * DAY, blobKeepUntil: NOW + 3 * DAY }));
    await s.appendMessage(message(other, a.deviceId, 4, { expiresAt: NOW + 30 * DAY }));
    assert.equal(await s.setGroupRetention(gid, a.deviceId, 300, sent.seq), 300);

    // Lead 120 s: the expiry becomes NOW + 300 - 120 (NOW is a whole minute).
    assert.equal(await s.enforceRetention(NOW, 120), 1, 'one application message lowered');
    assert.equal(await s.enforceRetention(NOW + 30, 120), 0, 'already lower: nothing moves up or down');
    assert.equal((await s.getBlob(digest))?.keepUntil, NOW + 180);

    assert.equal((await s.sweep(NOW + 179)).messages, 0);
    assert.deepEqual((await s.pendingMessages(b.deviceId, undefined, 10)).map((m) => [m.groupId, m.seq]).filter(([g]) => g === gid), [[gid, 2], [gid, sent.seq]]);
    assert.equal((await s.sweep(NOW + 180)).messages, 1, 'the message is gone by NOW + 180');
    const left = await s.pendingMessages(b.deviceId, undefined, 10);
    assert.deepEqual(left.filter((m) => m.groupId === gid).map((m) => m.kind), ['commit'], 'the commit stays for the offline device');
    assert.equal(left.filter((m) => m.groupId === other).length, 1, 'a group without a retention keeps its messages');
    assert.equal((await fixture().leftovers(gid)).blobRefs, 0);
    assert.deepEqual(await s.collectableBlobs(NOW + 180, 10), [digest], 'its attachment can be collected at the same time');
  });

  it('lowers only: a shorter default expiry or blob grace stays, and capBlobs never extends a blob', async () => {
    const s = storage();
    const a = await account(s);
    const b = await account(s);
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    await s.appendMessage(message(gid, a.deviceId, 1, { expiresAt: NOW + 60 }));
    assert.equal(await s.setGroupRetention(gid, a.deviceId, 3600, 2), 3600);
    assert.equal(await s.enforceRetention(NOW, 120), 0, 'it expires sooner anyway');
    const [d1, d2] = ['1'.repeat(64), '2'.repeat(64)] as BlobDigest[];
    await s.putBlob({ digest: d1 as BlobDigest, size: 1, keepUntil: NOW + DAY });
    await s.putBlob({ digest: d2 as BlobDigest, size: 1, keepUntil: NOW + 10 });
    await s.capBlobs([d1 as BlobDigest, d2 as BlobDigest], NOW + 240);
    assert.equal((await s.getBlob(d1 as BlobDigest))?.keepUntil, NOW + 240);
    assert.equal((await s.getBlob(d2 as BlobDigest))?.keepUntil, NOW + 10);
  });
}
