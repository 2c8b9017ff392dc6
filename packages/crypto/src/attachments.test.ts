import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AttachmentError, blobDigest, decryptAttachment, encryptAttachment } from './attachments.js';
import type { AttachmentErrorCode } from './attachments.js';

async function failsWith(p: Promise<unknown>, code: AttachmentErrorCode) {
  await assert.rejects(p, (err: unknown) => err instanceof AttachmentError && err.code === code);
}

describe('attachment encryption', () => {
  it('round-trips with a fresh key per file and a digest of the ciphertext', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (plain) => {
        const enc = await encryptAttachment(plain);
        assert.equal(enc.key.length, 32);
        assert.equal(enc.nonce.length, 12);
        assert.equal(enc.ciphertext.length, plain.length + 16);
        assert.equal(enc.digest, await blobDigest(enc.ciphertext));
        assert.match(enc.digest, /^[0-9a-f]{64}$/);
        assert.deepEqual(await decryptAttachment(enc.ciphertext, enc), plain);
      }),
      { numRuns: 50 },
    );
    const a = await encryptAttachment(new Uint8Array(10));
    const b = await encryptAttachment(new Uint8Array(10));
    assert.notDeepEqual(a.key, b.key);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  it('detects a swapped or modified blob, a wrong key and a forged tag', async () => {
    const plain = new TextEncoder().encode('a holiday photo, honestly');
    const enc = await encryptAttachment(plain);
    const other = await encryptAttachment(plain);

    // The server hands out another blob: the digest does not match.
    await failsWith(decryptAttachment(other.ciphertext, enc), 'digest_mismatch');
    const flipped = enc.ciphertext.slice();
    flipped[3] = (flipped[3] ?? 0) ^ 1;
    await failsWith(decryptAttachment(flipped, enc), 'digest_mismatch');

    // Matching digest but wrong key or nonce: the GCM tag fails.
    await failsWith(decryptAttachment(enc.ciphertext, { ...enc, key: other.key }), 'decrypt_failed');
    await failsWith(decryptAttachment(enc.ciphertext, { ...enc, nonce: other.nonce }), 'decrypt_failed');
    // A modified blob whose digest was also replaced (a sender lying about the content) still fails the tag.
    await failsWith(decryptAttachment(flipped, { ...enc, digest: await blobDigest(flipped) }), 'decrypt_failed');

    await failsWith(decryptAttachment(enc.ciphertext, { ...enc, key: enc.key.subarray(0, 16) }), 'invalid_parameters');
    await failsWith(decryptAttachment(enc.ciphertext, { ...enc, nonce: new Uint8Array(8) }), 'invalid_parameters');
    await failsWith(decryptAttachment(enc.ciphertext, { ...enc, digest: enc.digest.toUpperCase() as typeof enc.digest }), 'invalid_parameters');
  });
});
