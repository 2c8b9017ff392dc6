import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import { CONTENT_TYPES, ContentError, decodeContent, encodeContent, MAX_CONTENT_BYTES, newContentId } from './content.js';
import type { ContentErrorCode, MessageContent } from './content.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function decodeFails(bytes: Uint8Array, code: ContentErrorCode) {
  const r = decodeContent(bytes);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.error instanceof ContentError);
    assert.equal(r.error.code, code, r.error.message);
  }
}

const text = (): MessageContent => ({ v: 1, id: newContentId(), sentAt: 1_700_000_000_000, type: 'text', text: 'hello 👋' });
const attachment = (): MessageContent => ({
  v: 1,
  id: newContentId(),
  sentAt: 1_700_000_000_000,
  type: 'attachment',
  blob: { digest: toHex(new Uint8Array(32).fill(7)) as BlobDigest, key: new Uint8Array(32).fill(1), nonce: new Uint8Array(12).fill(2), size: 123_456 },
  mimeType: 'image/jpeg',
  fileName: 'IMG_0001.jpg',
  image: { width: 4032, height: 3024, thumbnail: { mimeType: 'image/webp', data: new Uint8Array([1, 2, 3]) } },
  caption: 'the view',
});

/** Arbitrary valid contents. */
const validContent: fc.Arbitrary<MessageContent> = fc.oneof(
  fc.record({
    v: fc.constant(1 as const),
    id: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toBase64Url),
    sentAt: fc.integer({ min: 0 }),
    type: fc.constant('text' as const),
    text: fc.string({ minLength: 1, maxLength: 200 }),
  }, { noNullPrototype: true }),
  fc.record(
    {
      v: fc.constant(1 as const),
      id: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toBase64Url),
      sentAt: fc.integer({ min: 0 }),
      type: fc.constant('attachment' as const),
      blob: fc.record({
        digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as BlobDigest),
        key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
        size: fc.integer({ min: 0 }),
      }, { noNullPrototype: true }),
      mimeType: fc.constantFrom('image/png', 'application/pdf', 'text/plain', 'video/mp4'),
      // eslint-disable-next-line no-control-regex
      fileName: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[/\\\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(s) && s !== '.' && s !== '..'),
      image: fc.record(
        {
          width: fc.integer({ min: 1, max: 65535 }),
          height: fc.integer({ min: 1, max: 65535 }),
          thumbnail: fc.record({ mimeType: fc.constantFrom('image/jpeg' as const, 'image/png' as const, 'image/webp' as const), data: fc.uint8Array({ minLength: 1, maxLength: 64 }) }, { noNullPrototype: true }),
        },
        { requiredKeys: ['width', 'height'], noNullPrototype: true },
      ),
      caption: fc.string({ maxLength: 50 }),
    },
    { requiredKeys: ['v', 'id', 'sentAt', 'type', 'blob', 'mimeType', 'fileName'], noNullPrototype: true },
  ),
);

describe('message content', () => {
  it('round-trips text and attachments', () => {
    for (const c of [text(), attachment()]) {
      const r = decodeContent(encodeContent(c));
      assert.ok(r.ok);
      if (r.ok) assert.deepEqual(r.content, c);
    }
    fc.assert(
      fc.property(validContent, (c) => {
        const r = decodeContent(encodeContent(c));
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        if (r.ok) assert.deepEqual(r.content, c);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects reserved types as unsupported, other versions and malformed documents with typed errors', () => {
    for (const type of ['reaction', 'edit', 'delete', 'receipt', 'poll']) decodeFails(enc({ v: 1, id: newContentId(), sentAt: 0, type }), 'unsupported_type');
    decodeFails(enc({ ...text(), v: 2 }), 'unsupported_version');
    decodeFails(enc({ ...text(), v: '1' }), 'invalid');
    decodeFails(enc({ v: 1, id: newContentId(), sentAt: 0 }), 'invalid');
    decodeFails(enc({ ...text(), text: '' }), 'invalid');
    decodeFails(enc({ ...text(), id: 'short' }), 'invalid');
    decodeFails(enc({ ...text(), sentAt: -1 }), 'invalid');
    decodeFails(enc([text()]), 'malformed');
    decodeFails(enc('text'), 'malformed');
    decodeFails(Uint8Array.of(0xc3, 0x28), 'malformed');
    decodeFails(new TextEncoder().encode('{"v":1,'), 'malformed');
    decodeFails(new Uint8Array(MAX_CONTENT_BYTES + 1), 'too_large');
    const att = JSON.parse(new TextDecoder().decode(encodeContent(attachment()))) as Record<string, unknown>;
    for (const fileName of ['../../etc/passwd', 'a\\b', 'evil\u202Etxt.exe', 'nul\u0000', '..', '']) decodeFails(enc({ ...att, fileName }), 'invalid');
    decodeFails(enc({ ...att, mimeType: 'image' }), 'invalid');
    decodeFails(enc({ ...att, blob: { ...(att['blob'] as object), key: 'AAAA' } }), 'invalid');
    decodeFails(enc({ ...att, blob: { ...(att['blob'] as object), digest: 'ff' } }), 'invalid');
  });

  it('never accepts a notice from the wire (notices are lines a client writes into its own history)', () => {
    const notice = { kind: 'safety_number_changed', userId: 'AAAAAAAAAAAAAAAAAAAAAA', username: 'bob', added: 1, removed: 0, reset: false };
    decodeFails(enc({ v: 1, id: newContentId(), sentAt: 0, type: 'notice', notice }), 'unsupported_type');
    assert.ok(!(CONTENT_TYPES as readonly string[]).includes('notice'), 'notice is not a wire content type');
  });

  it('error messages never echo the content', () => {
    const secret = 'my very secret message';
    for (const doc of [{ ...text(), text: secret, sentAt: 'x' }, { v: 1, type: secret }, { ...text(), id: secret }]) {
      const r = decodeContent(enc(doc));
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(!r.error.message.includes(secret), r.error.message);
    }
  });

  it('encodeContent refuses content that would not decode', () => {
    assert.throws(() => encodeContent({ ...text(), text: '' } as MessageContent), ContentError);
    assert.throws(() => encodeContent({ ...text(), text: 'x'.repeat(70_000) } as MessageContent), ContentError);
  });

  it('never throws on arbitrary plaintext (fuzzed)', () => {
    const check = (bytes: Uint8Array) => {
      const r = decodeContent(bytes);
      if (!r.ok) assert.ok(r.error instanceof ContentError);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.jsonValue(), (v) => check(enc(v))), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => check(new TextEncoder().encode(s))),
      { numRuns: 1000 },
    );
    // Valid documents with one field replaced by anything.
    fc.assert(
      fc.property(validContent, fc.constantFrom('v', 'id', 'sentAt', 'type', 'text', 'blob', 'mimeType', 'fileName', 'image', 'caption', '__proto__', 'constructor'), fc.jsonValue(), (c, field, value) => {
        const wire = JSON.parse(new TextDecoder().decode(encodeContent(c))) as Record<string, unknown>;
        wire[field] = value;
        check(enc(wire));
      }),
      { numRuns: 2000 },
    );
    // Deeply nested JSON must not blow the stack of anything but JSON.parse, which we catch.
    check(new TextEncoder().encode('['.repeat(100_000) + ']'.repeat(100_000)));
  });
});
