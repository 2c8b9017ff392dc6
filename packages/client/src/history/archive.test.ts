import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { blobDigest, encodeContent, encryptAttachment, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { toBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest, DeviceId, GroupId, UserId } from '@parley/protocol';
import { MediaRecords } from '../media/media-records.js';
import { messageWrite } from '../store/message-records.js';
import { MemoryStore } from '../store/memory-store.js';
import { StoreBatch } from '../store/records.js';
import { encryptPart, importArchiveKey } from './archive-format.js';
import type { HistoryArchiveMessage } from './archive-message.js';
import { readArchive, HistoryImportError } from './archive-reader.js';
import { writeArchive } from './archive-writer.js';

const conv = 'Y29udmVyc2F0aW9uLW9uZQ' as GroupId;
const user = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const device = 'BBBBBBBBBBBBBBBBBBBBBB' as DeviceId;
const me = 'CCCCCCCCCCCCCCCCCCCCCC' as DeviceId;

function text(seq: number, body: string, receivedAt = Date.now()) {
  const content: MessageContent = { type: 'text', v: 1, id: newContentId(), sentAt: receivedAt, text: body };
  return messageWrite({ conversationId: conv, seq, senderUserId: user, senderDeviceId: device, outgoing: true, receivedAt, content, plaintext: encodeContent(content) });
}

/** A store with `n` texts and one kept attachment (seq n + 1). */
async function source(n: number): Promise<{ store: MemoryStore; photo: Uint8Array }> {
  const store = new MemoryStore();
  const writes = [];
  for (let i = 1; i <= n; i++) {
    const w = text(i, `message ${i}`);
    writes.push({ type: 'put' as const, table: 'messages' as const, key: w.key, value: JSON.stringify(w.value) });
  }
  // More than one media chunk (512 KiB), random so that it does not compress.
  const photo = new Uint8Array(700_000);
  for (let i = 0; i < photo.length; i += 65_536) crypto.getRandomValues(photo.subarray(i, i + 65_536));
  const enc = await encryptAttachment(photo);
  const blob = { digest: enc.digest, key: enc.key, nonce: enc.nonce, size: photo.length };
  const content: MessageContent = { type: 'attachment', v: 1, id: newContentId(), sentAt: 1, blob, mimeType: 'image/png', fileName: 'p.png' };
  const w = messageWrite({ conversationId: conv, seq: n + 1, senderUserId: user, senderDeviceId: device, outgoing: false, receivedAt: Date.now(), content, plaintext: encodeContent(content) });
  writes.push({ type: 'put' as const, table: 'messages' as const, key: w.key, value: JSON.stringify(w.value) });
  const batch = new StoreBatch();
  await new MediaRecords(store).put(batch, blob, photo, 'image/png');
  await store.write([...writes, ...batch.writes]);
  return { store, photo };
}

/** Writes the archive of `store` into an in-memory "server". */
async function write(store: MemoryStore, partBytes = 64 * 1024): Promise<{ message: HistoryArchiveMessage; blobs: Map<BlobDigest, Uint8Array> }> {
  const blobs = new Map<BlobDigest, Uint8Array>();
  const written = await writeArchive({
    store,
    conversations: [{ id: conv, readSeq: 3 }],
    scope: 'all',
    now: Date.now(),
    partBytes,
    upload: async (digest, bytes) => {
      blobs.set(digest, bytes);
    },
    isClosed: () => false,
  });
  return { message: { kind: 'history_archive', archiveId: toBase64Url(new Uint8Array(16)), forDevice: me, format: 1, ...written }, blobs };
}

function read(message: HistoryArchiveMessage, blobs: Map<BlobDigest, Uint8Array>) {
  return readArchive(message, {
    me,
    store: new MemoryStore(),
    download: async (digest) => {
      const b = blobs.get(digest);
      if (b === undefined) throw new Error('no such blob');
      return b;
    },
  });
}

const failsWith = (reason: string) => (err: unknown) => err instanceof HistoryImportError && err.reason === reason;

/** An archive of hand-written lines, one part, as the writer would frame it. */
async function crafted(lines: unknown[]): Promise<{ message: HistoryArchiveMessage; blobs: Map<BlobDigest, Uint8Array> }> {
  const plaintext = new TextEncoder().encode(lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const gz = await new Response(new Blob([plaintext]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const part = await encryptPart(await importArchiveKey(raw, 'encrypt'), 0, true, new Uint8Array(gz));
  const digest = await blobDigest(part);
  const message: HistoryArchiveMessage = {
    kind: 'history_archive',
    archiveId: toBase64Url(new Uint8Array(16)),
    forDevice: me,
    format: 1,
    blobs: [{ digest, size: part.length }],
    key: toBase64Url(raw),
    sha256: toHex(sha256(plaintext)),
    counts: { conversations: 1, messages: lines.filter((l) => (l as { t?: unknown } | null)?.t === 'msg').length, media: 0 },
  };
  return { message, blobs: new Map([[digest, part]]) };
}

const head = { t: 'head', v: 1, createdAt: 1, scope: 'all', since: null };

describe('history archive', () => {
  it('reads back what was written, in several parts: every record, re-encoded as not outgoing here, and the kept media', async () => {
    const { store, photo } = await source(300);
    const { message, blobs } = await write(store);
    assert.ok(message.blobs.length > 5, 'several parts');
    assert.deepEqual(message.counts, { conversations: 1, messages: 301, media: 1 });
    const plan = await read(message, blobs);
    assert.equal(plan.messages, 301);
    const [c] = plan.conversations;
    assert.ok(c);
    assert.equal(c.readSeq, 3);
    assert.deepEqual(
      c.messages.map((m) => m.seq),
      Array.from({ length: 301 }, (_, i) => i + 1),
    );
    assert.ok(c.messages.every((m) => (JSON.parse(m.value) as { outgoing: boolean }).outgoing === false));
    const target = new MemoryStore();
    await target.write(c.media.writes);
    const kept = await new MediaRecords(target).headers();
    assert.equal(kept.length, 1);
    assert.equal(kept[0]?.header?.size, photo.length);
  });

  it('fails on a swapped, missing, changed or foreign part, and on a wrong hash', async () => {
    const { store } = await source(200);
    // An archive that needs more than 32 parts is refused before its key goes anywhere.
    await assert.rejects(write(store, 16 * 1024), (err: unknown) => err instanceof Error && (err as { code?: string }).code === 'too_large');
    const { message, blobs } = await write(store, 100 * 1024);
    const [a, b] = message.blobs;
    assert.ok(a && b);
    await assert.rejects(read({ ...message, blobs: [b, a, ...message.blobs.slice(2)] }, blobs), failsWith('decrypt_failed'), 'reordered');
    await assert.rejects(read({ ...message, blobs: message.blobs.slice(0, -1) }, blobs), failsWith('decrypt_failed'), 'the last part dropped');
    const changed = new Map(blobs);
    const bytes = new Uint8Array(blobs.get(a.digest) ?? []);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    changed.set(a.digest, bytes);
    await assert.rejects(read(message, changed), failsWith('digest_mismatch'), 'other bytes under the name');
    await assert.rejects(read({ ...message, blobs: [{ ...a, digest: '0'.repeat(64) as BlobDigest }, ...message.blobs.slice(1)] }, blobs), failsWith('download_failed'));
    await assert.rejects(read({ ...message, sha256: 'f'.repeat(64) }, blobs), failsWith('hash_mismatch'));
    await assert.rejects(read({ ...message, counts: { ...message.counts, messages: 7 } }, blobs), failsWith('invalid_archive'));
  });

  it('refuses lines out of place and records that do not validate', async () => {
    const good = text(1, 'hello');
    const msg = { t: 'msg', key: good.key, value: JSON.stringify(good.value) };
    const end = (messages: number) => ({ t: 'end', conversations: 1, messages, media: 0 });
    const conv1 = { t: 'conv', id: conv, readSeq: 0 };
    // The well-formed one reads.
    const ok = await crafted([head, conv1, msg, end(1)]);
    assert.equal((await read(ok.message, ok.blobs)).messages, 1);
    const bad: Array<[string, unknown[]]> = [
      ['no head', [conv1, msg, end(1)]],
      ['a message before its conversation', [head, msg, conv1, end(1)]],
      ['a message of another conversation', [head, { ...conv1, id: 'b3RoZXItY29udmVyc2F0aW9u' }, msg, end(1)]],
      ['a record that fails its schema', [head, conv1, { ...msg, value: JSON.stringify({ ...good.value, senderUserId: 'nope' }) }, end(1)]],
      ['a record under another key', [head, conv1, { ...msg, key: text(2, 'x').key }, end(1)]],
      ['the same message twice', [head, conv1, msg, msg, end(2)]],
      ['media for no message', [head, conv1, msg, { t: 'media', seq: 1, digest: 'a'.repeat(64), mimeType: 'image/png', size: 3, chunks: 1 }, { t: 'chunk', data: 'AAAA' }, end(1)]],
      ['no end', [head, conv1, msg]],
      ['a line after the end', [head, conv1, end(0), msg]],
      ['an end that counts otherwise', [head, conv1, msg, end(2)]],
      ['a Moments record that fails its schema', [head, conv1, msg, { t: 'moment', key: `moments/post/${newContentId()}`, value: '{"v":1}' }, { ...end(1), moments: 1 }]],
      ['a Moments record outside moments/', [head, conv1, msg, { t: 'moment', key: 'account', value: '{"v":1}' }, { ...end(1), moments: 1 }]],
      ['Moments records the end does not count', [head, conv1, msg, end(1), { t: 'moment', key: `moments/post/${newContentId()}`, value: '{"v":1}' }]],
    ];
    for (const [what, lines] of bad) {
      const { message, blobs } = await crafted(lines);
      await assert.rejects(read(message, blobs), failsWith('invalid_archive'), what);
    }
  });
  it('property: any sequence of lines either reads as a valid archive or fails with HistoryImportError, never anything else', async () => {
    const good = [text(1, 'one'), text(2, 'two'), text(3, 'three')];
    const line = fc.oneof(
      fc.constant(head),
      fc.constantFrom({ t: 'conv', id: conv, readSeq: 0 }, { t: 'conv', id: 'b3RoZXItY29udmVyc2F0aW9u', readSeq: 2 }),
      fc.constantFrom(...good.map((g) => ({ t: 'msg', key: g.key, value: JSON.stringify(g.value) }))),
      fc.record({ t: fc.constantFrom('msg', 'media', 'chunk', 'end', 'conv', 'x'), key: fc.string(), value: fc.string(), data: fc.string(), seq: fc.integer(), conversations: fc.nat(3), messages: fc.nat(3), media: fc.nat(1) }),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const { message, blobs } = await crafted(lines);
        try {
          const plan = await read(message, blobs);
          // It read: then it had a head, an end, and counted what it held.
          assert.equal((lines[0] as { t?: unknown } | null)?.t, 'head');
          assert.equal(plan.messages, plan.conversations.reduce((n, c) => n + c.messages.length, 0));
        } catch (err) {
          assert.ok(err instanceof HistoryImportError, `not a HistoryImportError: ${String(err)}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('property: replacing any one line of a valid archive with another valid-looking line makes it fail as invalid', async () => {
    const records = [text(1, 'one'), text(2, 'two'), text(3, 'three')];
    const valid = [head, { t: 'conv', id: conv, readSeq: 0 }, ...records.map((g) => ({ t: 'msg', key: g.key, value: JSON.stringify(g.value) })), { t: 'end', conversations: 1, messages: 3, media: 0 }];
    const replacement = fc.oneof(
      fc.constant(head),
      fc.constant({ t: 'conv', id: conv, readSeq: 0 }),
      fc.constant({ t: 'end', conversations: 1, messages: 3, media: 0 }),
      fc.constant({ t: 'chunk', data: 'AAAA' }),
      fc.record({ t: fc.constant('msg'), key: fc.constantFrom(...records.map((g) => g.key)), value: fc.string() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), replacement, async (at, other) => {
        fc.pre(JSON.stringify(valid[at]) !== JSON.stringify(other));
        const lines = valid.map((l, i) => (i === at ? other : l));
        const { message, blobs } = await crafted(lines);
        await assert.rejects(read({ ...message, counts: { conversations: 1, messages: 3, media: 0 } }, blobs), (err: unknown) => err instanceof HistoryImportError);
      }),
      { numRuns: 100 },
    );
  });
});
