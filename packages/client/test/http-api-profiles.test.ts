import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { toBase64Url, type BlobDigest } from '@parley/protocol';
import { ClientError } from '../src/errors.js';
import { HttpApi } from '../src/transport/http-api.js';
import { TestNetwork } from '../../server/test/helpers/test-network.js';

/** The profile calls of HttpApi against a real server (the profiles feature builds on them). */
describe('HttpApi: encrypted profiles', () => {
  it('puts, gets (bytes back; null for an unknown or replaced version) and deletes a profile; refusals are typed', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob] = [await net.register(), await net.register()];
    const api = new HttpApi(net.url);
    api.token = alice.token;
    const other = new HttpApi(net.url);
    other.token = bob.token;

    const picture = randomBytes(300);
    const digest = createHash('sha256').update(picture).digest('hex') as BlobDigest;
    await api.putBlob(digest, picture);
    const version = toBase64Url(randomBytes(32));
    const ciphertext = new Uint8Array(randomBytes(500));
    await api.putProfile({ version, ciphertext, pictureBlob: digest });
    const got = await other.getProfile(version);
    assert.ok(got);
    assert.deepEqual(new Uint8Array(got.ciphertext), ciphertext);
    assert.equal(got.pictureBlob, digest);
    assert.equal(await other.getProfile(toBase64Url(randomBytes(32))), null);

    const next = toBase64Url(randomBytes(32));
    await api.putProfile({ version: next, ciphertext, pictureBlob: null });
    assert.equal(await other.getProfile(version), null, 'replaced');
    assert.deepEqual(await other.getProfile(next), { userId: alice.userId, ciphertext, pictureBlob: null }, 'the owner is named');

    const missing = 'e'.repeat(64) as BlobDigest;
    await assert.rejects(api.putProfile({ version: next, ciphertext, pictureBlob: missing }), (err) => err instanceof ClientError && err.code === 'not_found' && err.detail?.['blob'] === missing);
    await assert.rejects(other.putProfile({ version: next, ciphertext, pictureBlob: null }), (err) => err instanceof ClientError && err.code === 'profile_version_taken');
    await assert.rejects(other.getProfile('not-a-version'), (err) => err instanceof ClientError && err.code === 'bad_request', 'a malformed version is an error, not "no profile"');

    await api.deleteProfile();
    assert.equal(await other.getProfile(next), null);
  });
});
