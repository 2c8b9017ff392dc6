import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import { encryptAttachment } from './attachments.js';
import { ContentError, decodeContent, encodeContent, HISTORY_CONTENT_TYPES, isHistoryContent, newContentId } from './content.js';
import type { ContentErrorCode, MessageContent } from './content.js';
import {
  decryptMomentBody,
  encryptMomentBody,
  MAX_MOMENT_BODY_BYTES,
  MAX_MOMENT_COMMENT_LENGTH,
  MAX_MOMENT_LOCATION_LENGTH,
  MAX_MOMENT_PHOTO_BYTES,
  MAX_MOMENT_PHOTOS,
  MAX_MOMENT_TEXT_LENGTH,
  MAX_SEALED_COMMENT_BYTES,
  MOMENT_CONTENT_TYPES,
  MOMENT_WINDOWS,
  MomentError,
  momentWindowMs,
  openMomentComment,
  sealMomentComment,
  momentPostId,
} from './moments.js';
import type { MomentBody, MomentBodyPhoto, MomentComment, MomentContent, MomentErrorCode } from './moments.js';

const latin1 = (b: Uint8Array) => new TextDecoder('latin1').decode(b);
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const wireOf = (c: MessageContent) => JSON.parse(new TextDecoder().decode(encodeContent(c))) as Record<string, unknown>;

function decodeFails(bytes: Uint8Array, code: ContentErrorCode) {
  const r = decodeContent(bytes);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.error instanceof ContentError);
    assert.equal(r.error.code, code, r.error.message);
  }
}

/** Runs `f` and checks it rejects with a MomentError of `code` (and nothing else). */
async function rejectsWith(f: () => Promise<unknown>, code: MomentErrorCode) {
  await assert.rejects(f, (e: unknown) => {
    assert.ok(e instanceof MomentError, `expected a MomentError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const idArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toBase64Url);
const timeArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const head = { v: fc.constant(1 as const), id: idArb, sentAt: timeArb };
const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as BlobDigest);
const windowArb = fc.constantFrom(...MOMENT_WINDOWS);

/** Every moment content type, valid. */
const momentContent: fc.Arbitrary<MomentContent> = fc.oneof(
  fc.record(
    {
      ...head,
      type: fc.constant('moment_post' as const),
      postId: idArb,
      salt: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      postedAt: timeArb,
      body: fc.record(
        { digest: digestArb, key: fc.uint8Array({ minLength: 32, maxLength: 32 }), nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }), size: fc.integer({ min: 1, max: MAX_MOMENT_BODY_BYTES }) },
        { noNullPrototype: true },
      ),
      window: windowArb,
    },
    { noNullPrototype: true },
  ),
  fc.record({ ...head, type: fc.constant('moment_delete' as const), postId: idArb }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('moment_comment' as const), postId: idArb, sealed: fc.uint8Array({ minLength: 29, maxLength: 400 }) }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('moment_comment_delete' as const), postId: idArb, commentId: idArb }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('moment_hello' as const), friend: fc.boolean(), window: windowArb }, { noNullPrototype: true }),
);

const base = () => ({ v: 1 as const, id: newContentId(), sentAt: 1_700_000_000_000 });
const postRef = (): MomentContent => ({
  ...base(),
  type: 'moment_post',
  postId: newContentId(),
  salt: new Uint8Array(16).fill(3),
  postedAt: 1_700_000_000_000,
  body: { digest: toHex(new Uint8Array(32).fill(9)) as BlobDigest, key: new Uint8Array(32).fill(1), nonce: new Uint8Array(12).fill(2), size: 4_321 },
  window: '1m',
});

describe('moment content types', () => {
  it('round-trips every moment type through encodeContent/decodeContent (property)', () => {
    fc.assert(
      fc.property(momentContent, (c) => {
        const r = decodeContent(encodeContent(c));
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        if (r.ok) assert.deepEqual(r.content, c);
      }),
      { numRuns: 1000 },
    );
    const seen = new Set(fc.sample(momentContent, 500).map((c) => c.type));
    assert.deepEqual([...seen].sort(), [...MOMENT_CONTENT_TYPES].sort());
  });

  it('moment types are never history entries (they never show in the chat)', () => {
    for (const t of MOMENT_CONTENT_TYPES) assert.ok(!(HISTORY_CONTENT_TYPES as readonly string[]).includes(t), t);
    fc.assert(fc.property(momentContent, (c) => assert.equal(isHistoryContent(c), false)), { numRuns: 200 });
  });

  it('refuses malformed, oversized and wrong-typed moment documents with typed errors', () => {
    const post = wireOf(postRef());
    const body = post['body'] as Record<string, unknown>;
    for (const size of [0, -1, 1.5, MAX_MOMENT_BODY_BYTES + 1, 2 ** 40, '10']) decodeFails(enc({ ...post, body: { ...body, size } }), 'invalid');
    for (const key of ['AAAA', 'A'.repeat(44), '', 7]) decodeFails(enc({ ...post, body: { ...body, key } }), 'invalid');
    for (const nonce of ['AAAA', 'A'.repeat(17), null]) decodeFails(enc({ ...post, body: { ...body, nonce } }), 'invalid');
    decodeFails(enc({ ...post, body: { ...body, digest: 'ff' } }), 'invalid');
    for (const window of ['1w', '', 'ALL', 3, null, undefined]) decodeFails(enc({ ...post, window }), 'invalid');
    for (const postId of ['short', `${newContentId()}x`, 7, undefined, 'A'.repeat(21) + '=']) {
      decodeFails(enc({ ...post, postId }), 'invalid');
      decodeFails(enc({ ...base(), type: 'moment_delete', postId }), 'invalid');
      decodeFails(enc({ ...base(), type: 'moment_comment_delete', postId, commentId: newContentId() }), 'invalid');
      decodeFails(enc({ ...base(), type: 'moment_comment', postId, sealed: toBase64Url(new Uint8Array(40)) }), 'invalid');
    }
    for (const postedAt of [-1, 1.5, '0', Number.MAX_SAFE_INTEGER + 2, undefined]) decodeFails(enc({ ...post, postedAt }), 'invalid');
    decodeFails(enc({ ...base(), type: 'moment_comment_delete', postId: newContentId() }), 'invalid');
    // A sealed comment is at least a nonce and a tag, and at most MAX_SEALED_COMMENT_BYTES.
    for (const sealed of [toBase64Url(new Uint8Array(28)), toBase64Url(new Uint8Array(MAX_SEALED_COMMENT_BYTES + 1)), '', '!!!!', 5]) {
      decodeFails(enc({ ...base(), type: 'moment_comment', postId: newContentId(), sealed }), 'invalid');
    }
    for (const friend of ['yes', 1, null, undefined]) decodeFails(enc({ ...base(), type: 'moment_hello', friend, window: 'all' }), 'invalid');
    decodeFails(enc({ ...base(), type: 'moment_hello', friend: true }), 'invalid');
    // Wrong types: a delete is not a post, a post is not a hello.
    decodeFails(enc({ ...post, type: 'moment_delete', postId: 3 }), 'invalid');
    decodeFails(enc({ ...post, type: 'moment_hello' }), 'invalid');
    for (const type of ['moment', 'moment_like', 'MOMENT_POST', 'moment_window']) decodeFails(enc({ ...post, type }), 'unsupported_type');
    decodeFails(enc({ ...post, v: 2 }), 'unsupported_version');
    assert.throws(() => encodeContent({ ...postRef(), window: '2w' } as unknown as MessageContent), (e: Error) => e instanceof ContentError && e.code === 'invalid');
  });

  it('never throws on a moment document with one field replaced by anything (fuzzed), and never echoes it', () => {
    const secret = 'a secret moment caption';
    fc.assert(
      fc.property(momentContent, fc.constantFrom('v', 'id', 'sentAt', 'type', 'postId', 'postedAt', 'body', 'window', 'sealed', 'commentId', 'friend', '__proto__'), fc.jsonValue(), (c, field, value) => {
        const wire = wireOf(c);
        wire[field] = value;
        const r = decodeContent(enc(wire));
        if (!r.ok) assert.ok(r.error instanceof ContentError);
        wire[field] = secret;
        const s = decodeContent(enc(wire));
        if (!s.ok) assert.ok(!s.error.message.includes(secret), s.error.message);
      }),
      { numRuns: 2000 },
    );
  });

  it('window lengths', () => {
    assert.equal(momentWindowMs('3d'), 3 * 86_400_000);
    assert.equal(momentWindowMs('1m'), 30 * 86_400_000);
    assert.equal(momentWindowMs('6m'), 182 * 86_400_000);
    assert.equal(momentWindowMs('all'), null);
  });
});

/* ---------------- the post body ---------------- */

const key43 = () => toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
const nonce16 = () => toBase64Url(crypto.getRandomValues(new Uint8Array(12)));
const photo = (i: number): MomentBodyPhoto => ({
  digest: toHex(new Uint8Array(32).fill(i)) as BlobDigest,
  key: key43(),
  nonce: nonce16(),
  size: 1 + i * 1000,
  mimeType: 'image/jpeg',
  width: 4032,
  height: 3024,
  thumbnail: { mimeType: 'image/webp', data: toBase64Url(new Uint8Array(200).fill(i)) },
});
const body = (postId: string, over: Partial<MomentBody> = {}): MomentBody => ({ v: 1, postId, text: 'sunset at the pier 🌅', location: 'Lisbon', photos: [photo(1), photo(2)], ...over });

const photoArb: fc.Arbitrary<MomentBodyPhoto> = fc.record(
  {
    digest: digestArb,
    key: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toBase64Url),
    nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }).map(toBase64Url),
    size: fc.integer({ min: 1, max: MAX_MOMENT_PHOTO_BYTES }),
    mimeType: fc.constantFrom('image/jpeg' as const, 'image/png' as const, 'image/webp' as const, 'image/gif' as const),
    width: fc.integer({ min: 1, max: 65_535 }),
    height: fc.integer({ min: 1, max: 65_535 }),
    thumbnail: fc.record({ mimeType: fc.constantFrom('image/jpeg' as const, 'image/png' as const, 'image/webp' as const), data: fc.uint8Array({ minLength: 1, maxLength: 300 }).map(toBase64Url) }, { noNullPrototype: true }),
  },
  { requiredKeys: ['digest', 'key', 'nonce', 'size', 'mimeType', 'width', 'height'], noNullPrototype: true },
);
const bodyArb: fc.Arbitrary<MomentBody> = fc
  .record(
    {
      v: fc.constant(1 as const),
      postId: idArb,
      text: fc.string({ maxLength: 300 }),
      location: fc.string({ minLength: 1, maxLength: MAX_MOMENT_LOCATION_LENGTH }),
      photos: fc.array(photoArb, { maxLength: MAX_MOMENT_PHOTOS }),
    },
    { requiredKeys: ['v', 'postId', 'text', 'photos'], noNullPrototype: true },
  )
  .filter((b) => b.text.trim().length > 0 || b.photos.length > 0);

describe('moment post body', () => {
  it('round-trips through encryptMomentBody/decryptMomentBody (property), under a fresh key each time', async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, async (b) => {
        const sealed = await encryptMomentBody(b);
        assert.equal(sealed.key.length, 32);
        assert.equal(sealed.nonce.length, 12);
        assert.equal(sealed.size, new TextEncoder().encode(JSON.stringify(b)).length);
        assert.deepEqual(await decryptMomentBody(sealed.ciphertext, sealed, b.postId), b);
      }),
      { numRuns: 150 },
    );
    const b = body(newContentId(), { photos: Array.from({ length: MAX_MOMENT_PHOTOS }, (_, i) => photo(i)) });
    const one = await encryptMomentBody(b);
    const two = await encryptMomentBody(b);
    assert.notDeepEqual(one.key, two.key);
    assert.notEqual(one.digest, two.digest);
    assert.deepEqual(await decryptMomentBody(two.ciphertext, two, b.postId), b);
    // The ciphertext does not carry the text in the clear.
    assert.ok(!latin1(one.ciphertext).includes('Lisbon'));
  });

  it('refuses a body for another post id (wrong_post)', async () => {
    const postId = newContentId();
    const sealed = await encryptMomentBody(body(postId));
    await rejectsWith(() => decryptMomentBody(sealed.ciphertext, sealed, newContentId()), 'wrong_post');
  });

  it('refuses a tampered body, a wrong key or nonce (decrypt_failed)', async () => {
    const postId = newContentId();
    const sealed = await encryptMomentBody(body(postId));
    for (let i = 0; i < sealed.ciphertext.length; i += Math.max(1, Math.floor(sealed.ciphertext.length / 16))) {
      const bad = sealed.ciphertext.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      await rejectsWith(() => decryptMomentBody(bad, sealed, postId), 'decrypt_failed');
    }
    await rejectsWith(() => decryptMomentBody(sealed.ciphertext.subarray(0, sealed.ciphertext.length - 1), sealed, postId), 'decrypt_failed');
    await rejectsWith(() => decryptMomentBody(sealed.ciphertext, { ...sealed, key: new Uint8Array(32) }, postId), 'decrypt_failed');
    await rejectsWith(() => decryptMomentBody(sealed.ciphertext, { ...sealed, nonce: new Uint8Array(12) }, postId), 'decrypt_failed');
    await rejectsWith(() => decryptMomentBody(sealed.ciphertext, { ...sealed, key: new Uint8Array(16) }, postId), 'decrypt_failed');
    // A ciphertext whose digest was recomputed (the server swapping blobs) still fails the tag.
    const bad = sealed.ciphertext.slice();
    bad[0] = (bad[0] ?? 0) ^ 0xff;
    const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bad))) as BlobDigest;
    await rejectsWith(() => decryptMomentBody(bad, { ...sealed, digest }, postId), 'decrypt_failed');
  });

  it('refuses more than 9 photos, an empty post, over-long text or location, bad photo fields (invalid) before encrypting', async () => {
    const postId = newContentId();
    await rejectsWith(() => encryptMomentBody(body(postId, { photos: Array.from({ length: MAX_MOMENT_PHOTOS + 1 }, (_, i) => photo(i)) })), 'invalid');
    for (const text of ['', '   ', '\n\t']) await rejectsWith(() => encryptMomentBody(body(postId, { text, photos: [] })), 'invalid');
    await rejectsWith(() => encryptMomentBody(body(postId, { text: 'x'.repeat(MAX_MOMENT_TEXT_LENGTH + 1) })), 'invalid');
    await rejectsWith(() => encryptMomentBody(body(postId, { location: '' })), 'invalid');
    await rejectsWith(() => encryptMomentBody(body(postId, { location: 'x'.repeat(MAX_MOMENT_LOCATION_LENGTH + 1) })), 'invalid');
    await rejectsWith(() => encryptMomentBody(body('not-an-id')), 'invalid');
    const badPhotos: Partial<Record<keyof MomentBodyPhoto, unknown>>[] = [
      { size: 0 },
      { size: MAX_MOMENT_PHOTO_BYTES + 1 },
      { mimeType: 'image/svg+xml' },
      { mimeType: 'text/html' },
      { width: 0 },
      { height: 65_536 },
      { key: 'AAAA' },
      { nonce: 'A'.repeat(17) },
      { digest: 'ff' },
      { thumbnail: { mimeType: 'image/gif', data: 'AAAA' } },
      { thumbnail: { mimeType: 'image/jpeg', data: 'A'.repeat(70_000) } },
    ];
    for (const over of badPhotos) await rejectsWith(() => encryptMomentBody(body(postId, { photos: [{ ...photo(1), ...over } as MomentBodyPhoto] })), 'invalid');
    // At the limits: 9 photos and MAX text are fine; a post of photos only is fine.
    const full = body(postId, { text: 'y'.repeat(MAX_MOMENT_TEXT_LENGTH), photos: Array.from({ length: MAX_MOMENT_PHOTOS }, (_, i) => photo(i)) });
    const sealed = await encryptMomentBody(full);
    assert.deepEqual(await decryptMomentBody(sealed.ciphertext, sealed, postId), full);
    const photosOnly = body(postId, { text: '', photos: [photo(3)] });
    const s2 = await encryptMomentBody(photosOnly);
    assert.deepEqual(await decryptMomentBody(s2.ciphertext, s2, postId), photosOnly);
  });

  it('refuses a body over the size limit (too_large), sending or receiving', async () => {
    const postId = newContentId();
    // Each control character takes 6 bytes in JSON: nine such thumbnails pass the schema and exceed the limit.
    const heavy = (i: number): MomentBodyPhoto => ({ ...photo(i), thumbnail: { mimeType: 'image/png', data: '\u0001'.repeat(60_000) } });
    await rejectsWith(() => encryptMomentBody(body(postId, { photos: Array.from({ length: MAX_MOMENT_PHOTOS }, (_, i) => heavy(i)) })), 'too_large');
    const big = await encryptAttachment(new Uint8Array(MAX_MOMENT_BODY_BYTES + 1).fill(0x20));
    await rejectsWith(() => decryptMomentBody(big.ciphertext, big, postId), 'too_large');
  });

  it('refuses a decrypted body that is not UTF-8 JSON or does not validate (invalid), never anything but a MomentError (fuzzed)', async () => {
    const postId = newContentId();
    const docs: Uint8Array[] = [Uint8Array.of(0xc3, 0x28), new TextEncoder().encode('{"v":1,'), enc([1]), enc(null), enc({ ...body(postId), v: 2 }), enc({ ...body(postId), photos: 'none' })];
    for (const d of docs) {
      const s = await encryptAttachment(d);
      await rejectsWith(() => decryptMomentBody(s.ciphertext, s, postId), 'invalid');
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.jsonValue().map(enc)), async (bytes) => {
        const s = await encryptAttachment(bytes);
        await assert.rejects(() => decryptMomentBody(s.ciphertext, s, postId), (e: unknown) => e instanceof MomentError && e.code === 'invalid');
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(bodyArb, fc.constantFrom('v', 'postId', 'text', 'location', 'photos', '__proto__'), fc.jsonValue(), async (b, field, value) => {
        const doc = JSON.parse(JSON.stringify(b)) as Record<string, unknown>;
        doc[field] = value;
        const s = await encryptAttachment(enc(doc));
        try {
          await decryptMomentBody(s.ciphertext, s, b.postId);
        } catch (e) {
          assert.ok(e instanceof MomentError && ['invalid', 'wrong_post'].includes(e.code), String(e));
        }
      }),
      { numRuns: 300 },
    );
  });
});

/* ---------------- likes and comments ---------------- */

const postKey = () => crypto.getRandomValues(new Uint8Array(32));
const comment = (over: Partial<MomentComment> = {}): MomentComment => ({ v: 1, commentId: newContentId(), like: false, text: 'what a view!', sentAt: 1_700_000_000_500, ...over });
const commentArb: fc.Arbitrary<MomentComment> = fc.oneof(
  fc.record({ v: fc.constant(1 as const), commentId: idArb, like: fc.constant(true), sentAt: timeArb }, { noNullPrototype: true }),
  fc.record(
    {
      v: fc.constant(1 as const),
      commentId: idArb,
      like: fc.constant(false),
      text: fc.string({ minLength: 1, maxLength: 300 }).filter((t) => t.trim().length > 0),
      replyTo: idArb,
      sentAt: timeArb,
    },
    { requiredKeys: ['v', 'commentId', 'like', 'text', 'sentAt'], noNullPrototype: true },
  ),
);

describe('moment likes and comments', () => {
  it('round-trips likes and comments with the same post key and post id (property)', async () => {
    await fc.assert(
      fc.asyncProperty(commentArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), idArb, async (c, key, postId) => {
        const sealed = await sealMomentComment(key, postId, c);
        assert.ok(sealed.length <= MAX_SEALED_COMMENT_BYTES);
        assert.deepEqual(await openMomentComment(key, postId, sealed), c);
        // It travels in a moment_comment document.
        const doc: MessageContent = { ...base(), type: 'moment_comment', postId, sealed };
        const r = decodeContent(encodeContent(doc));
        assert.ok(r.ok && r.content.type === 'moment_comment');
        if (r.ok && r.content.type === 'moment_comment') assert.deepEqual(await openMomentComment(key, postId, r.content.sealed), c);
      }),
      { numRuns: 200 },
    );
  });

  it('opens only with the same post key AND post id (decrypt_failed otherwise)', async () => {
    const key = postKey();
    const postId = newContentId();
    const c = comment();
    const sealed = await sealMomentComment(key, postId, c);
    assert.deepEqual(await openMomentComment(key, postId, sealed), c);
    await rejectsWith(() => openMomentComment(postKey(), postId, sealed), 'decrypt_failed');
    await rejectsWith(() => openMomentComment(key, newContentId(), sealed), 'decrypt_failed');
    await rejectsWith(() => openMomentComment(postKey(), newContentId(), sealed), 'decrypt_failed');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), idArb, async (otherKey, otherId) => {
        fc.pre(otherId !== postId);
        await rejectsWith(() => openMomentComment(key, otherId, sealed), 'decrypt_failed');
        fc.pre(toBase64Url(otherKey) !== toBase64Url(key));
        await rejectsWith(() => openMomentComment(otherKey, postId, sealed), 'decrypt_failed');
      }),
      { numRuns: 100 },
    );
    // Sealed twice, the same comment gives different bytes (a fresh nonce), and no plaintext shows.
    const again = await sealMomentComment(key, postId, c);
    assert.notDeepEqual(again, sealed);
    assert.ok(!latin1(sealed).includes('view'));
  });

  it('a like has no text and no reply; a comment has text', async () => {
    const key = postKey();
    const postId = newContentId();
    const like: MomentComment = { v: 1, commentId: newContentId(), like: true, sentAt: 1_700_000_000_600 };
    assert.deepEqual(await openMomentComment(key, postId, await sealMomentComment(key, postId, like)), like);
    await rejectsWith(() => sealMomentComment(key, postId, comment({ like: true, text: 'nice' })), 'invalid');
    await rejectsWith(() => sealMomentComment(key, postId, { v: 1, commentId: newContentId(), like: true, replyTo: newContentId(), sentAt: 1 }), 'invalid');
    await rejectsWith(() => sealMomentComment(key, postId, { v: 1, commentId: newContentId(), like: false, sentAt: 1 }), 'invalid');
    for (const text of ['', ' ', '\n']) await rejectsWith(() => sealMomentComment(key, postId, comment({ text })), 'invalid');
    await rejectsWith(() => sealMomentComment(key, postId, comment({ commentId: 'nope' })), 'invalid');
    await rejectsWith(() => sealMomentComment(key, postId, comment({ replyTo: 'nope' })), 'invalid');
    await rejectsWith(() => sealMomentComment(new Uint8Array(16), postId, comment()), 'invalid');
    // A like forged with text by a modified client is refused on opening too.
    const forged = await sealRaw(key, postId, { v: 1, commentId: newContentId(), like: true, text: 'sneaky', sentAt: 1 });
    await rejectsWith(() => openMomentComment(key, postId, forged), 'invalid');
  });

  it('altered bytes fail; wrong sizes are refused', async () => {
    const key = postKey();
    const postId = newContentId();
    const sealed = await sealMomentComment(key, postId, comment());
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x80;
      await rejectsWith(() => openMomentComment(key, postId, bad), 'decrypt_failed');
    }
    await rejectsWith(() => openMomentComment(key, postId, sealed.subarray(0, sealed.length - 1)), 'decrypt_failed');
    for (const size of [0, 12, 28]) await rejectsWith(() => openMomentComment(key, postId, new Uint8Array(size)), 'invalid');
    await rejectsWith(() => openMomentComment(key, postId, new Uint8Array(MAX_SEALED_COMMENT_BYTES + 1)), 'invalid');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 29, maxLength: 600 }), async (bytes) => {
        await rejectsWith(() => openMomentComment(key, postId, bytes), 'decrypt_failed');
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an oversized comment before sealing', async () => {
    const key = postKey();
    const postId = newContentId();
    await rejectsWith(() => sealMomentComment(key, postId, comment({ text: 'x'.repeat(MAX_MOMENT_COMMENT_LENGTH + 1) })), 'invalid');
    const longest = comment({ text: '😀'.repeat(MAX_MOMENT_COMMENT_LENGTH / 2) });
    assert.deepEqual(await openMomentComment(key, postId, await sealMomentComment(key, postId, longest)), longest);
    // The worst case (control characters take six bytes each in JSON) still fits the sealed-size limit the receiver checks.
    const worst = comment({ text: `x${'\u0001'.repeat(MAX_MOMENT_COMMENT_LENGTH - 1)}`, replyTo: newContentId() });
    const sealed = await sealMomentComment(key, postId, worst);
    assert.ok(sealed.length <= MAX_SEALED_COMMENT_BYTES, String(sealed.length));
    assert.deepEqual(await openMomentComment(key, postId, sealed), worst);
  });

  it('a sealed document that decrypts but does not validate is invalid, never a throw of anything else', async () => {
    const key = postKey();
    const postId = newContentId();
    for (const doc of [null, [], { v: 2 }, { ...comment(), sentAt: -1 }, 'text']) await rejectsWith(async () => openMomentComment(key, postId, await sealRaw(key, postId, doc)), 'invalid');
    await rejectsWith(async () => openMomentComment(key, postId, await sealRawBytes(key, postId, Uint8Array.of(0xc3, 0x28))), 'invalid');
  });
});

/** Seals any bytes the way sealMomentComment does (HKDF of the post key, AES-GCM, post id as associated data): what a modified client could send. */
async function sealRawBytes(rawKey: Uint8Array, postId: string, plain: Uint8Array): Promise<Uint8Array> {
  const ikm = await crypto.subtle.importKey('raw', rawKey as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: new TextEncoder().encode(`parley moment comment v1 ${postId}`) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt'],
  );
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(postId) }, key, plain as Uint8Array<ArrayBuffer>));
  const out = new Uint8Array(12 + ct.length);
  out.set(nonce);
  out.set(ct, 12);
  return out;
}

function sealRaw(rawKey: Uint8Array, postId: string, doc: unknown): Promise<Uint8Array> {
  return sealRawBytes(rawKey, postId, enc(doc));
}

describe('moment post ids', () => {
  it('are bound to their author: another author with the same salt gets another id; a salt of the wrong size is refused', async () => {
    const salt = new Uint8Array(16).fill(5);
    const a = await momentPostId('author-one', salt);
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(await momentPostId('author-one', salt), a);
    assert.notEqual(await momentPostId('author-two', salt), a);
    assert.notEqual(await momentPostId('author-one', new Uint8Array(16).fill(6)), a);
    await rejectsWith(() => momentPostId('author-one', new Uint8Array(15)), 'invalid');
  });
});
