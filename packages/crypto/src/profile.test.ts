import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { BlobDigest, UserId } from '@parley/protocol';
import { fromBase64Url } from '@parley/protocol';
import {
  decryptProfile,
  encryptProfile,
  generateProfileKey,
  MAX_ABOUT_LENGTH,
  MAX_DISPLAY_NAME_LENGTH,
  normalizeProfileText,
  PROFILE_CIPHERTEXT_BYTES,
  ProfileError,
  profileTextProblem,
  profileVersion,
} from './profile.js';
import type { ProfileData, ProfileErrorCode } from './profile.js';

const alice = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const bob = 'BBBBBBBBBBBBBBBBBBBBBB' as UserId;

async function failsWith(p: Promise<unknown>, code: ProfileErrorCode) {
  await assert.rejects(p, (err: unknown) => err instanceof ProfileError && err.code === code);
}

const picture = { digest: 'ab'.repeat(32) as BlobDigest, key: new Uint8Array(32).fill(7), nonce: new Uint8Array(12).fill(9), size: 1234, mimeType: 'image/jpeg' as const };

const texts = (max: number) =>
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: max })
    .map(normalizeProfileText)
    .filter((s) => profileTextProblem(s, max) === undefined);

describe('profiles: keys and versions', () => {
  it('derives one 32-byte version per key and user, and nothing else gives it', async () => {
    const key = generateProfileKey();
    const v = await profileVersion(key, alice);
    assert.equal(fromBase64Url(v)?.length, 32);
    assert.equal(await profileVersion(key, alice), v, 'deterministic');
    assert.notEqual(await profileVersion(key, bob), v, 'another user, another version');
    assert.notEqual(await profileVersion(generateProfileKey(), alice), v, 'a new key (rotation), another version');
    await failsWith(profileVersion(new Uint8Array(31), alice), 'invalid_parameters');
  });
});

describe('profiles: encryption', () => {
  it('round-trips any valid profile, every ciphertext the same size', async () => {
    const key = generateProfileKey();
    await fc.assert(
      fc.asyncProperty(fc.option(texts(MAX_DISPLAY_NAME_LENGTH), { nil: null }), fc.option(texts(MAX_ABOUT_LENGTH), { nil: null }), fc.boolean(), async (displayName, about, withPicture) => {
        const profile: ProfileData = { displayName, about, picture: withPicture ? picture : null, updatedAt: 1_700_000_000_000 };
        const { version, ciphertext } = await encryptProfile(key, alice, profile);
        assert.equal(version, await profileVersion(key, alice));
        assert.equal(ciphertext.length, PROFILE_CIPHERTEXT_BYTES);
        assert.deepEqual(await decryptProfile(key, alice, ciphertext), profile);
      }),
      { numRuns: 60 },
    );
  });

  it('a short and a long name give ciphertexts of one size', async () => {
    const key = generateProfileKey();
    const short = await encryptProfile(key, alice, { displayName: 'A', about: null, picture: null, updatedAt: 0 });
    const long = await encryptProfile(key, alice, { displayName: 'Ä'.repeat(64), about: '𝔸'.repeat(280), picture, updatedAt: 0 });
    assert.equal(short.ciphertext.length, long.ciphertext.length);
  });

  it('refuses another key, another user, and any flipped byte', async () => {
    const key = generateProfileKey();
    const { ciphertext } = await encryptProfile(key, alice, { displayName: 'Alice', about: 'hi', picture: null, updatedAt: 1 });
    await failsWith(decryptProfile(generateProfileKey(), alice, ciphertext), 'decrypt_failed');
    await failsWith(decryptProfile(key, bob, ciphertext), 'decrypt_failed');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: ciphertext.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
        const bad = ciphertext.slice();
        bad[at] = (bad[at] as number) ^ flip;
        await failsWith(decryptProfile(key, alice, bad), 'decrypt_failed');
      }),
      { numRuns: 30 },
    );
    await failsWith(decryptProfile(key, alice, ciphertext.subarray(0, 100)), 'malformed');
    const otherFormat = ciphertext.slice();
    otherFormat[0] = 2;
    await failsWith(decryptProfile(key, alice, otherFormat), 'malformed');
  });

  it('refuses a profile that decrypts but does not validate', async () => {
    // Only a key holder can produce this: encrypt invalid JSON the same way as encryptProfile does.
    const key = generateProfileKey();
    const sealed = async (json: unknown): Promise<Uint8Array> => {
      const version = await profileVersion(key, alice);
      const padded = new Uint8Array(4096);
      padded.set(new TextEncoder().encode(JSON.stringify(json)));
      const base = await crypto.subtle.importKey('raw', key, 'HKDF', false, ['deriveKey']);
      const aes = await crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new TextEncoder().encode(`parley profile encryption v1\n${alice}`) },
        base,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt'],
      );
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(`parley profile v1\n1\n${alice}\n${version}`) }, aes, padded));
      return new Uint8Array([1, ...nonce, ...ct]);
    };
    // The helper matches the real format: a valid profile sealed by it opens.
    assert.equal((await decryptProfile(key, alice, await sealed({ v: 1, displayName: 'ok', about: null, picture: null, updatedAt: 0 }))).displayName, 'ok');
    for (const bad of [
      { v: 2, displayName: 'ok', about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: 'x'.repeat(65), about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: ' padded ', about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: 'evil\u202eexe.txt', about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: 'bell\u0007', about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: '', about: null, picture: null, updatedAt: 0 },
      { v: 1, displayName: 'ok', about: 'a'.repeat(281), picture: null, updatedAt: 0 },
      { v: 1, displayName: 'ok', about: null, picture: { digest: 'zz', key: 'AA', nonce: 'AA', size: 1, mimeType: 'image/gif' }, updatedAt: 0 },
      { v: 1, displayName: 'ok', about: null, picture: null, updatedAt: 0, extra: true },
      { v: 1, displayName: 'ok', about: null, updatedAt: 0 },
      'just a string',
    ]) {
      await failsWith(decryptProfile(key, alice, await sealed(bad)), 'invalid');
    }
  });

  it('refuses to encrypt texts that are not canonical or over their limits', async () => {
    const key = generateProfileKey();
    for (const displayName of [' x', 'x'.repeat(MAX_DISPLAY_NAME_LENGTH + 1), 'a\u202eb', '']) {
      await failsWith(encryptProfile(key, alice, { displayName, about: null, picture: null, updatedAt: 0 }), 'invalid_parameters');
    }
    await failsWith(encryptProfile(new Uint8Array(16), alice, { displayName: 'x', about: null, picture: null, updatedAt: 0 }), 'invalid_parameters');
  });
});

describe('profiles: text rules', () => {
  it('normalizes white space and NFC, counts code points, refuses controls and bidi overrides', () => {
    assert.equal(normalizeProfileText('  Ada \n\t Lovelace  '), 'Ada Lovelace');
    assert.equal(normalizeProfileText('e\u0301'), 'é');
    assert.equal(profileTextProblem('', 64), 'empty');
    assert.equal(profileTextProblem('😀'.repeat(64), 64), undefined, '64 emoji are 64 characters, not 128');
    assert.equal(profileTextProblem('😀'.repeat(65), 64), 'too_long');
    for (const bad of ['a\u0000', 'a\u001b[31m', 'a\u202eb', 'a\u2066b', 'a\u0085', 'a\ud800']) assert.equal(profileTextProblem(bad, 64), 'unsafe', JSON.stringify(bad));
    assert.equal(profileTextProblem('👩‍💻 Zoë', 64), undefined, 'joiners inside emoji are fine');
  });
});
