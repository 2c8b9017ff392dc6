import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { accountDeletionMessage, MAX_PROFILE_CIPHERTEXT_BYTES, toBase64Url, type BlobDigest } from '@parley/protocol';
import { ceilHour } from '../src/clock.js';
import { runMaintenance } from '../src/maintenance.js';
import { TestNetwork, type TestAccount } from './helpers/test-network.js';

const DAY = 86_400;
const version = (): string => toBase64Url(randomBytes(32));

async function upload(a: TestAccount, size = 500): Promise<BlobDigest> {
  const data = randomBytes(size);
  const digest = createHash('sha256').update(data).digest('hex') as BlobDigest;
  const res = await a.net.http('PUT', `/v1/blobs/${digest}`, { token: a.token, raw: data });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return digest;
}

/** `token: null` sends no session. */
function put(a: TestAccount, body: unknown, token: string | null = a.token) {
  return a.net.http('PUT', '/v1/profile', { ...(token === null ? {} : { token }), body });
}

/** The profiles table as stored (the server's SQLite file, read by a second connection). */
function storedProfiles(net: TestNetwork): Array<Record<string, unknown>> {
  const db = new Database(join(net.dataDir, 'parley.db'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM profiles ORDER BY user_id').all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

async function deleteAccount(a: TestAccount): Promise<void> {
  const ch = await a.net.http('POST', '/v1/sessions/challenge', { body: { username: a.username, deviceId: a.deviceId } });
  assert.equal(ch.status, 201);
  const challenge = ch.body.challenge as string;
  const signature = toBase64Url(a.key.sign(accountDeletionMessage(a.userId, a.deviceId, challenge)));
  const res = await a.post('/v1/account/deletion', { password: a.password, challenge, signature });
  assert.equal(res.status, 204, JSON.stringify(res.body));
}

describe('encrypted profiles over HTTP', () => {
  it('stores a profile any signed-in account can fetch by its version; a new version replaces it, the old one is 404; delete removes it', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob] = [await net.register(), await net.register()];
    const picture = await upload(alice);
    const v1 = version();
    const c1 = randomBytes(300);
    const res = await put(alice, { version: v1, ciphertext: toBase64Url(c1), pictureBlob: picture });
    assert.equal(res.status, 204, JSON.stringify(res.body));

    const got = await bob.get(`/v1/profiles/${v1}`);
    assert.equal(got.status, 200);
    // Exactly these fields: the owner is named (the reader derived the version from that user's id), so a reader can refuse another account's upload.
    assert.deepEqual(got.body, { userId: alice.userId, ciphertext: toBase64Url(c1), pictureBlob: picture });

    const rows = storedProfiles(net);
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0] ?? {}), ['user_id', 'version', 'ciphertext', 'picture_blob', 'updated_day'], 'no exact time is stored');
    assert.match(String(rows[0]?.['updated_day']), /^\d{4}-\d{2}-\d{2}$/);

    // A new key (rotation): a new version replaces the profile; the old version resolves no more.
    const v2 = version();
    const c2 = randomBytes(MAX_PROFILE_CIPHERTEXT_BYTES);
    assert.equal((await put(alice, { version: v2, ciphertext: toBase64Url(c2), pictureBlob: null })).status, 204);
    const old = await bob.get(`/v1/profiles/${v1}`);
    assert.equal(old.status, 404);
    assert.equal(old.body.code, 'not_found');
    assert.deepEqual((await bob.get(`/v1/profiles/${v2}`)).body, { userId: alice.userId, ciphertext: toBase64Url(c2), pictureBlob: null });
    assert.equal(storedProfiles(net).length, 1, 'one row per user');
    assert.equal((await bob.get(`/v1/profiles/${version()}`)).status, 404, 'an unknown version');

    assert.equal((await alice.delete('/v1/profile')).status, 204);
    assert.equal((await bob.get(`/v1/profiles/${v2}`)).status, 404);
    assert.equal((await alice.delete('/v1/profile')).status, 204, 'deleting again is fine');
    assert.deepEqual(storedProfiles(net), []);
  });

  it('refuses bad input with typed errors and stores nothing', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob] = [await net.register(), await net.register()];
    const good = { version: version(), ciphertext: toBase64Url(randomBytes(100)), pictureBlob: null };
    const refusals: Array<[string, unknown, number, string]> = [
      ['version too short', { ...good, version: toBase64Url(randomBytes(31)) }, 400, 'bad_request'],
      ['version with stray trailing bits', { ...good, version: good.version.slice(0, 42) + 'B' }, 400, 'bad_request'],
      ['version not base64url', { ...good, version: '+'.repeat(43) }, 400, 'bad_request'],
      ['ciphertext over 8 KiB', { ...good, ciphertext: toBase64Url(randomBytes(MAX_PROFILE_CIPHERTEXT_BYTES + 1)) }, 400, 'bad_request'],
      ['ciphertext shorter than a tag', { ...good, ciphertext: toBase64Url(randomBytes(15)) }, 400, 'bad_request'],
      ['body far over the limit', { ...good, ciphertext: toBase64Url(randomBytes(64 * 1024)) }, 413, 'payload_too_large'],
      ['no pictureBlob field', { version: good.version, ciphertext: good.ciphertext }, 400, 'bad_request'],
      ['a digest that is not one', { ...good, pictureBlob: 'A'.repeat(64) }, 400, 'bad_request'],
      ['a picture that was never uploaded', { ...good, pictureBlob: 'f'.repeat(64) }, 404, 'not_found'],
    ];
    for (const [what, body, status, code] of refusals) {
      const res = await put(alice, body);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, code, what);
      if (code === 'not_found') assert.deepEqual(res.body.detail, { blob: 'f'.repeat(64) });
    }
    const anonymous = await put(alice, good, null);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'unauthenticated');
    assert.equal((await net.http('GET', `/v1/profiles/${good.version}`)).body.code, 'unauthenticated');
    assert.equal((await net.http('DELETE', '/v1/profile')).body.code, 'unauthenticated');
    const { account: pending } = await net.requestLink(alice.username, alice.password);
    const fromPending = await put(alice, good, pending.token);
    assert.equal(fromPending.status, 403);
    assert.equal(fromPending.body.code, 'device_pending');
    const badPath = await bob.get('/v1/profiles/not-a-version');
    assert.equal(badPath.status, 400);
    assert.equal(badPath.body.code, 'bad_request');
    assert.deepEqual(storedProfiles(net), [], 'nothing was stored');

    // Another account's version (a contact who holds alice's key): refused, alice's profile untouched.
    assert.equal((await put(alice, good)).status, 204);
    const taken = await put(bob, { ...good, ciphertext: toBase64Url(randomBytes(100)) });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'profile_version_taken');
    assert.deepEqual((await bob.get(`/v1/profiles/${good.version}`)).body, { userId: alice.userId, ciphertext: good.ciphertext, pictureBlob: null });
    assert.equal(storedProfiles(net).length, 1);
  });

  it('deletes the profile with the account, and its picture at the next collection after the hour', async () => {
    let now = Math.floor(Date.now() / 1000);
    await using net = await TestNetwork.start();
    (net.ctx as { clock: { now(): number } }).clock = { now: () => now };
    const [alice, bob] = [await net.register(), await net.register()];
    const picture = await upload(alice);
    const v = version();
    assert.equal((await put(alice, { version: v, ciphertext: toBase64Url(randomBytes(200)), pictureBlob: picture })).status, 204);
    await deleteAccount(alice);
    assert.equal((await bob.get(`/v1/profiles/${v}`)).status, 404);
    assert.deepEqual(storedProfiles(net), []);
    assert.equal((await net.ctx.storage.getBlob(picture))?.keepUntil, ceilHour(now), 'not kept for the grace period');
    now = ceilHour(now);
    assert.equal((await runMaintenance(net.ctx)).blobs, 1);
    assert.equal((await bob.get(`/v1/blobs/${picture}`)).status, 404);
  });

  it('keeps the picture blob while the profile refers to it, and collects a replaced picture after the grace period', async () => {
    let now = Math.floor(Date.now() / 1000);
    await using net = await TestNetwork.start();
    (net.ctx as { clock: { now(): number } }).clock = { now: () => now };
    const [alice, bob] = [await net.register(), await net.register()];
    const first = await upload(alice);
    const v = version();
    const profileWith = (pictureBlob: BlobDigest) => put(alice, { version: v, ciphertext: toBase64Url(randomBytes(200)), pictureBlob });
    assert.equal((await profileWith(first)).status, 204);

    now += 10 * DAY; // far past the upload's grace period
    await runMaintenance(net.ctx);
    assert.equal((await bob.get(`/v1/blobs/${first}`)).status, 200, 'kept: the profile refers to it');

    const second = await upload(alice);
    assert.equal((await profileWith(second)).status, 204);
    const releasedAt = now;
    now += 3600;
    await runMaintenance(net.ctx);
    assert.equal((await bob.get(`/v1/blobs/${first}`)).status, 200, 'a device that just read the old profile can still fetch its picture');

    now = ceilHour(releasedAt + net.ctx.config.blobGraceSeconds);
    assert.equal((await runMaintenance(net.ctx)).blobs, 1);
    assert.equal((await bob.get(`/v1/blobs/${first}`)).status, 404, 'the replaced picture is gone');
    assert.equal((await bob.get(`/v1/blobs/${second}`)).status, 200, 'the current one stays');
  });
});
