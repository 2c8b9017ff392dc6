import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import {
  CONTENT_TYPES,
  ContentError,
  decodeContent,
  DISAPPEAR_TIMERS_MS,
  encodeContent,
  HISTORY_CONTENT_TYPES,
  isHistoryContent,
  MAX_CONTENT_BYTES,
  MAX_EMOJI_LENGTH,
  MAX_VOICE_BYTES,
  MAX_VOICE_DURATION_MS,
  MAX_WAVEFORM_SAMPLES,
  newContentId,
} from './content.js';
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

  it('rejects bare specified types as invalid, unknown types as unsupported, other versions and malformed documents with typed errors', () => {
    for (const type of ['voice', 'reaction', 'edit', 'delete', 'receipt', 'settings', 'typing', 'profile_key']) decodeFails(enc({ v: 1, id: newContentId(), sentAt: 0, type }), 'invalid');
    for (const type of ['poll', 'REACTION', 'reply', 'notice', 'deleted', '']) decodeFails(enc({ v: 1, id: newContentId(), sentAt: 0, type }), 'unsupported_type');
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

const idArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toBase64Url);
const refArb = fc.record({ seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), id: idArb }, { noNullPrototype: true });
const head = { v: fc.constant(1 as const), id: idArb, sentAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) };
/** Single emoji: plain, with a skin tone, ZWJ sequences, flags (regional and subdivision), keycaps, with variation selectors. */
const EMOJIS = ['👍', '❤️', '😂', '🇩🇪', '👩‍👩‍👧', '👍🏽', '#️⃣', '1️⃣', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '©️', '🫠', '👨🏿‍🚀'];
const BAD_EMOJIS = ['', 'a', 'ok', '👍 ', ' 👍', ' ', '1', '#', '*', ':)', 'x'.repeat(40), '👍'.repeat(17), '👍👍', '🇩🇪🇫🇷', '👍\u200d'.repeat(16) + '👍', '\u200d', '\ufe0f', '🏽', '<b>👍</b>', '👍\n', 'a👍'];
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as BlobDigest);

const voiceArb = fc.record(
  {
    ...head,
    type: fc.constant('voice' as const),
    blob: fc.record(
      { digest, key: fc.uint8Array({ minLength: 32, maxLength: 32 }), nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }), size: fc.integer({ min: 1, max: MAX_VOICE_BYTES }) },
      { noNullPrototype: true },
    ),
    mimeType: fc.constantFrom('audio/ogg; codecs=opus', 'audio/webm;codecs=opus', 'audio/mp4', 'audio/mpeg', 'audio/aac', 'audio/wav', 'audio/ogg'),
    durationMs: fc.integer({ min: 1, max: MAX_VOICE_DURATION_MS }),
    waveform: fc.uint8Array({ maxLength: MAX_WAVEFORM_SAMPLES }),
    replyTo: refArb,
  },
  { requiredKeys: ['v', 'id', 'sentAt', 'type', 'blob', 'mimeType', 'durationMs', 'waveform'], noNullPrototype: true },
);

/** Every v1 type other than text and attachment, valid. */
const newContent: fc.Arbitrary<MessageContent> = fc.oneof(
  fc.record({ ...head, type: fc.constant('text' as const), text: fc.string({ minLength: 1, maxLength: 100 }), replyTo: refArb }, { noNullPrototype: true }),
  voiceArb,
  fc.record({ ...head, type: fc.constant('reaction' as const), target: refArb, emoji: fc.option(fc.constantFrom(...EMOJIS), { nil: null }) }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('edit' as const), target: refArb, text: fc.string({ minLength: 1, maxLength: 100 }) }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('delete' as const), target: refArb }, { noNullPrototype: true }),
  fc
    .record({ ...head, delivered: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), withRead: fc.boolean(), frac: fc.double({ min: 0, max: 1, noNaN: true }) }, { noNullPrototype: true })
    .map(({ withRead, frac, ...r }): MessageContent => ({ ...r, type: 'receipt', ...(withRead ? { read: Math.floor(r.delivered * frac) } : {}) })),
  fc.record({ ...head, type: fc.constant('settings' as const), disappearAfterMs: fc.option(fc.constantFrom(...DISAPPEAR_TIMERS_MS), { nil: null }) }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('typing' as const), typing: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ ...head, type: fc.constant('profile_key' as const), key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }, { noNullPrototype: true }),
);

const wireOf = (c: MessageContent) => JSON.parse(new TextDecoder().decode(encodeContent(c))) as Record<string, unknown>;
const ref = () => ({ seq: 7, id: newContentId() });
const base = () => ({ v: 1, id: newContentId(), sentAt: 1_700_000_000_000 });

describe('message content: replies, voice, reactions, edits, deletes, receipts, settings, typing', () => {
  it('round-trips every type (property)', () => {
    fc.assert(
      fc.property(newContent, (c) => {
        const r = decodeContent(encodeContent(c));
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        if (r.ok) assert.deepEqual(r.content, c);
      }),
      { numRuns: 1000 },
    );
  });

  it('history entries are text, attachment, voice and settings only', () => {
    assert.deepEqual([...HISTORY_CONTENT_TYPES].sort(), ['attachment', 'settings', 'text', 'voice']);
    fc.assert(
      fc.property(fc.oneof(newContent, validContent), (c) => assert.equal(isHistoryContent(c), ['text', 'attachment', 'voice', 'settings'].includes(c.type))),
      { numRuns: 300 },
    );
  });

  it('accepts single emoji (flags, keycaps, ZWJ sequences, skin tones) and refuses anything else as invalid', () => {
    for (const emoji of EMOJIS) {
      const r = decodeContent(enc({ ...base(), type: 'reaction', target: ref(), emoji }));
      assert.ok(r.ok, `${emoji}: ${r.ok ? '' : r.error.message}`);
    }
    for (const emoji of [...BAD_EMOJIS, 1, true, {}, ['👍']]) decodeFails(enc({ ...base(), type: 'reaction', target: ref(), emoji }), 'invalid');
    decodeFails(enc({ ...base(), type: 'reaction', target: ref() }), 'invalid');
    // Anything with a letter, a space or punctuation in it is not an emoji.
    fc.assert(
      fc.property(fc.string({ maxLength: MAX_EMOJI_LENGTH }), fc.constantFrom('a', ' ', '.', 'Z', '\n', '<'), fc.nat(), (s, bad, at) => {
        const i = at % (s.length + 1);
        decodeFails(enc({ ...base(), type: 'reaction', target: ref(), emoji: s.slice(0, i) + bad + s.slice(i) }), 'invalid');
      }),
      { numRuns: 500 },
    );
    assert.throws(() => encodeContent({ ...base(), v: 1, type: 'reaction', target: ref(), emoji: 'thumbs up' }), (e: Error) => e instanceof ContentError && e.code === 'invalid');
  });

  it('refuses bad message references in replies, reactions, edits and deletes', () => {
    const badRefs: unknown[] = [
      undefined,
      null,
      { seq: 0, id: newContentId() },
      { seq: -1, id: newContentId() },
      { seq: 1.5, id: newContentId() },
      { seq: '7', id: newContentId() },
      { seq: Number.MAX_SAFE_INTEGER + 2, id: newContentId() },
      { seq: 7 },
      { seq: 7, id: 'short' },
      { seq: 7, id: `${newContentId()}x` },
      { seq: 7, id: 'A'.repeat(21) + '=' },
      { id: newContentId() },
      7,
      [7, newContentId()],
    ];
    for (const target of badRefs) {
      decodeFails(enc({ ...base(), type: 'reaction', target, emoji: '👍' }), 'invalid');
      decodeFails(enc({ ...base(), type: 'edit', target, text: 'new' }), 'invalid');
      decodeFails(enc({ ...base(), type: 'delete', target }), 'invalid');
      if (target !== undefined) {
        decodeFails(enc({ ...base(), type: 'text', text: 'hi', replyTo: target }), 'invalid');
        decodeFails(enc({ ...wireOf(attachment()), replyTo: target }), 'invalid');
      }
    }
    decodeFails(enc({ ...base(), type: 'edit', target: ref(), text: '' }), 'invalid');
    decodeFails(enc({ ...base(), type: 'edit', target: ref(), text: 'x'.repeat(65_537) }), 'invalid');
  });

  it('refuses oversized or malformed voice messages before anything is sent, and on receipt', () => {
    const voice = fc.sample(voiceArb, 1)[0] as MessageContent;
    const wire = wireOf(voice);
    const blob = wire['blob'] as Record<string, unknown>;
    for (const size of [0, MAX_VOICE_BYTES + 1, 2 ** 40]) decodeFails(enc({ ...wire, blob: { ...blob, size } }), 'invalid');
    for (const durationMs of [0, -5, MAX_VOICE_DURATION_MS + 1, 1.5]) decodeFails(enc({ ...wire, durationMs }), 'invalid');
    decodeFails(enc({ ...wire, waveform: toBase64Url(new Uint8Array(MAX_WAVEFORM_SAMPLES + 1)) }), 'invalid');
    for (const mimeType of ['video/mp4', 'audio/', 'audio/ogg; codecs=<script>', 'image/png', 'audio/flac']) decodeFails(enc({ ...wire, mimeType }), 'invalid');
    assert.throws(
      () => encodeContent({ ...voice, blob: { ...(voice as { blob: { size: number } }).blob, size: MAX_VOICE_BYTES + 1 } } as MessageContent),
      (e: Error) => e instanceof ContentError && e.code === 'invalid',
    );
    fc.assert(
      fc.property(voiceArb, fc.integer({ min: MAX_VOICE_BYTES + 1, max: 2 ** 40 }), (v, size) => decodeFails(enc({ ...wireOf(v), blob: { ...(wireOf(v)['blob'] as object), size } }), 'invalid')),
      { numRuns: 100 },
    );
  });

  it('refuses receipts read beyond delivered, and disallowed timers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }), fc.integer({ min: 1, max: 1000 }), (delivered, more) => {
        decodeFails(enc({ ...base(), type: 'receipt', delivered, read: Math.min(delivered + more, Number.MAX_SAFE_INTEGER) }), 'invalid');
      }),
      { numRuns: 300 },
    );
    for (const r of [{ delivered: -1 }, { delivered: 1.5 }, { delivered: '3' }, { delivered: 3, read: -1 }, {}]) decodeFails(enc({ ...base(), type: 'receipt', ...r }), 'invalid');
    fc.assert(
      fc.property(fc.integer(), (ms) => {
        fc.pre(!(DISAPPEAR_TIMERS_MS as readonly number[]).includes(ms));
        decodeFails(enc({ ...base(), type: 'settings', disappearAfterMs: ms }), 'invalid');
      }),
      { numRuns: 300 },
    );
    for (const disappearAfterMs of [0, 1.5, '300000', undefined, 60_000]) decodeFails(enc({ ...base(), type: 'settings', disappearAfterMs }), 'invalid');
    for (const typing of [undefined, 1, 'yes', null]) decodeFails(enc({ ...base(), type: 'typing', typing }), 'invalid');
    // A profile key is exactly 32 bytes of base64url.
    for (const key of [undefined, '', 'AAAA', 'A'.repeat(44), 'A'.repeat(42) + '!', 7]) decodeFails(enc({ ...base(), type: 'profile_key', key }), 'invalid');
  });

  it('never throws on any of the new types with one field replaced by anything (fuzzed)', () => {
    fc.assert(
      fc.property(
        newContent,
        fc.constantFrom('v', 'id', 'sentAt', 'type', 'target', 'emoji', 'text', 'replyTo', 'blob', 'durationMs', 'waveform', 'delivered', 'read', 'disappearAfterMs', 'typing', '__proto__'),
        fc.jsonValue(),
        (c, field, value) => {
          const wire = wireOf(c);
          wire[field] = value;
          const r = decodeContent(enc(wire));
          if (!r.ok) assert.ok(r.error instanceof ContentError);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
