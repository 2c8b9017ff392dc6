import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { BlobDigest, DeviceId, ProfileVersion, UserId } from '@parley/protocol';
import type { ProfileRecord, Storage } from '../src/storage/storage.js';
import { account, id, NOW, rejectsWith } from './storage-contract-helpers.js';

const version = (): ProfileVersion => randomBytes(32).toString('base64url') as ProfileVersion;
const digest = (c: string): BlobDigest => c.repeat(64) as BlobDigest;

function profile(userId: UserId, v: ProfileVersion, pictureBlob: BlobDigest | null = null, size = 40): ProfileRecord {
  return { userId, version: v, ciphertext: new Uint8Array(randomBytes(size)), pictureBlob, updatedDay: '2027-01-15' };
}

/**
 * Storage contract, part 7: encrypted profiles. One per user, replaced
 * atomically; its picture blob is kept while it refers to it and released
 * (with a grace) when replaced or deleted; account deletion takes both.
 */
export function profileContract(storage: () => Storage): void {
  it('stores one profile per user: a put replaces the previous one, whose version stops resolving', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const [v1, v2, vb] = [version(), version(), version()];
    const first = profile(a.userId, v1, null, 8192);
    await s.putProfile(first, NOW);
    assert.deepEqual(await s.getProfile(v1), first);
    await s.putProfile(profile(b.userId, vb), NOW);

    const second = profile(a.userId, v2);
    await s.putProfile(second, NOW);
    assert.equal(await s.getProfile(v1), undefined, 'the old version is gone with its row');
    assert.deepEqual(await s.getProfile(v2), second);
    const renamed = { ...profile(a.userId, v2), updatedDay: '2027-01-16' };
    await s.putProfile(renamed, NOW);
    assert.deepEqual(await s.getProfile(v2), renamed, 'the same version with new content (a new name under the same key)');
    assert.equal((await s.getProfile(vb))?.userId, b.userId, "another user's profile is untouched");

    assert.equal(await s.deleteProfile(a.userId, NOW), true);
    assert.equal(await s.getProfile(v2), undefined);
    assert.equal(await s.deleteProfile(a.userId, NOW), false, 'deleting again: nothing to delete');
    assert.equal((await s.getProfile(vb))?.userId, b.userId);
  });

  it("refuses a picture that was not uploaded, an unknown user and another account's version, storing nothing", async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const va = version();
    const kept = profile(a.userId, va);
    await s.putProfile(kept, NOW);

    const missing = digest('e');
    const err = await rejectsWith(s.putProfile(profile(a.userId, version(), missing), NOW), 'not_found');
    assert.deepEqual(err.detail, { blob: missing });
    assert.deepEqual(await s.getProfile(va), kept, 'the previous profile stays as it was');

    await rejectsWith(s.putProfile(profile(id() as UserId, version()), NOW), 'not_found');

    await rejectsWith(s.putProfile(profile(b.userId, va), NOW), 'profile_version_taken');
    assert.deepEqual(await s.getProfile(va), kept, "a's profile is not replaced by b's");
    assert.equal(await s.deleteProfile(b.userId, NOW), false, 'b stored nothing');
  });

  it('keeps a picture blob while a profile refers to it, and collects it after its grace once replaced or deleted', async () => {
    const s = storage();
    const a = await account(s);
    const [d1, d2] = [digest('1'), digest('2')];
    await s.putBlob({ digest: d1, size: 100, keepUntil: NOW });
    await s.putBlob({ digest: d2, size: 200, keepUntil: NOW });
    await s.putProfile(profile(a.userId, version(), d1), NOW + 500);
    const later = NOW + 1_000_000;
    assert.deepEqual(await s.collectableBlobs(later, 100), [d2], 'the picture is kept long past its own grace');
    assert.deepEqual(await s.deleteBlobs([d1]), [], 'and deleting it is refused');
    assert.ok(await s.getBlob(d1));

    // A new picture: the old one gets the grace from the release (NOW + 500), then goes.
    await s.putProfile(profile(a.userId, version(), d2), NOW + 500);
    assert.equal((await s.getBlob(d1))?.keepUntil, NOW + 500);
    assert.deepEqual(await s.collectableBlobs(NOW + 499, 100), []);
    assert.deepEqual(await s.collectableBlobs(NOW + 500, 100), [d1]);
    assert.deepEqual(await s.deleteBlobs([d1, d2]), [d1], 'the referenced new picture stays');

    // The same picture again changes nothing; removing the picture releases it.
    await s.putProfile(profile(a.userId, version(), d2), NOW + 900);
    assert.equal((await s.getBlob(d2))?.keepUntil, NOW, 'not released: still referred to');
    await s.putProfile(profile(a.userId, version(), null), NOW + 900);
    assert.equal((await s.getBlob(d2))?.keepUntil, NOW + 900);
    assert.deepEqual(await s.collectableBlobs(NOW + 900, 100), [d2]);

    // Deleting the profile releases its picture the same way.
    const d3 = digest('3');
    await s.putBlob({ digest: d3, size: 300, keepUntil: NOW });
    await s.putProfile(profile(a.userId, version(), d3), NOW);
    assert.deepEqual(await s.collectableBlobs(later, 100), [d2]);
    assert.equal(await s.deleteProfile(a.userId, NOW + 1200), true);
    assert.equal((await s.getBlob(d3))?.keepUntil, NOW + 1200);
    assert.deepEqual(await s.collectableBlobs(NOW + 1200, 100), [d2, d3]);
  });

  it('deletes the profile with the account, lets its picture go at the deletion, and refuses a profile for the deleted account', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const d = digest('4');
    await s.putBlob({ digest: d, size: 100, keepUntil: NOW + 50_000 });
    const va = version();
    const vb = version();
    await s.putProfile(profile(a.userId, va, d), NOW);
    await s.putProfile(profile(b.userId, vb), NOW);
    await s.deleteAccount(a.userId, NOW + 3600, { nameHash: randomBytes(32), until: NOW + 86_400 });
    assert.equal(await s.getProfile(va), undefined);
    assert.equal((await s.getBlob(d))?.keepUntil, NOW + 3600, 'lowered to the deletion time, not kept for its grace');
    assert.deepEqual(await s.collectableBlobs(NOW + 3600, 100), [d]);
    await rejectsWith(s.putProfile(profile(a.userId, version()), NOW), 'not_found');
    assert.equal((await s.getProfile(vb))?.userId, b.userId, "another account's profile stays");
    // The purge after the hold finds nothing of the profile in its way.
    assert.equal((await s.sweep(NOW + 86_400)).accounts, 1);
  });

  it('deletes the profile when its user starts over (a new identity), letting its picture go then; others keep theirs', async () => {
    const s = storage();
    const [a, b] = [await account(s), await account(s)];
    const d = digest('5');
    await s.putBlob({ digest: d, size: 100, keepUntil: NOW + 50_000 });
    const [va, vb] = [version(), version()];
    await s.putProfile(profile(a.userId, va, d), NOW);
    await s.putProfile(profile(b.userId, vb), NOW);
    await s.resetIdentity(a.userId, { id: id() as DeviceId, signatureKey: randomBytes(32) }, '2027-01-15', { tokenHash: randomBytes(32), expiresAt: NOW + 10 }, NOW + 3600);
    assert.equal(await s.getProfile(va), undefined, 'the old identity’s profile is gone');
    assert.equal((await s.getBlob(d))?.keepUntil, NOW + 3600);
    assert.equal((await s.getProfile(vb))?.userId, b.userId);
    // The new identity uploads a profile of its own.
    const fresh = profile(a.userId, version());
    await s.putProfile(fresh, NOW);
    assert.deepEqual(await s.getProfile(fresh.version), fresh);
  });
}
