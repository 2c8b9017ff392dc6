import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAX_VOICE_BYTES, MAX_VOICE_DURATION_MS, MAX_WAVEFORM_SAMPLES } from '@parley/crypto';
import type { BlobDigest } from '@parley/protocol';
import { SqliteStore } from '../src/node.js';
import { ClientError, MemoryStore } from '../src/index.js';
import type { GroupId, Message, ParleyClient, StoreWrite } from '../src/index.js';
import { MediaRecords } from '../src/media/media-records.js';
import { StoreBatch } from '../src/store/records.js';
import { runMaintenance } from '../../server/src/maintenance.js';
import { filesUnder } from './helpers/seizure.js';
import { ClientNetwork, waitFor } from './helpers/network.js';

/** Blobs go as soon as no stored message references them (no grace period), once the clock is past their hour. */
const config = { blobGraceSeconds: 0 };

/** Lets the server's own housekeeping delete the blob: every device acknowledged its message, then maintenance runs "hours later". */
async function serverDeletes(net: ClientNetwork, digest: BlobDigest): Promise<void> {
  const ctx = net.server.ctx;
  ctx.clock = { now: () => Math.floor(Date.now() / 1000) + 7200 };
  await waitFor(async () => {
    await runMaintenance(ctx);
    return (await ctx.storage.getBlob(digest)) === undefined;
  }, 'the server deletes the blob');
  const outsider = await net.server.register();
  const res = await fetch(`${net.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${outsider.token}` } });
  assert.equal(res.status, 404);
}

async function lastOf(client: ParleyClient, conversationId: GroupId, type: 'attachment' | 'voice', count = 1): Promise<Message> {
  const list = await waitFor(async () => {
    const m = (await client.messages(conversationId)).filter((x) => x.content.type === type);
    return m.length >= count ? m : undefined;
  }, `${type} #${count} arrives`);
  return list[count - 1] as Message;
}

function digestOf(message: Message): BlobDigest {
  const c = message.content;
  assert.ok(c.type === 'attachment' || c.type === 'voice');
  return c.blob.digest;
}

const blobFiles = (net: ClientNetwork) => filesUnder(join(net.server.dataDir, 'blobs')).filter((f) => !f.includes('.tmp')).length;

describe('client: media kept on the device', () => {
  it('keeps an image on arrival: after the server deleted the blob, a receiver restarted from SQLite and the sender still show it', async () => {
    await using net = await ClientNetwork.start({ config });
    const dir = mkdtempSync(join(tmpdir(), 'parley-media-'));
    try {
      const alice = await net.user();
      const store = SqliteStore.open(join(dir, 'bob.db'));
      const bob = await net.user(undefined, { store });
      const conv = await alice.client.createConversation([bob.name]);
      await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
      assert.deepEqual(await bob.client.mediaSettings(), { autoDownloadMaxBytes: 25 * 1024 * 1024 });

      const image = new Uint8Array(randomBytes(1_300_000)); // three chunks
      const sent = await alice.client.send(conv.id, { attachment: image, mimeType: 'image/png', fileName: 'cat.png' });
      // The sender had the bytes: kept at send time, before anyone asked.
      assert.deepEqual(await alice.client.mediaUsage(), { bytes: image.length, files: 1 });
      const received = await lastOf(bob.client, conv.id, 'attachment');
      await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'bob keeps it in the background');
      assert.deepEqual(await bob.client.mediaUsage(), { bytes: image.length, files: 1 });

      await serverDeletes(net, digestOf(sent));
      await bob.client.close();
      await store.close();
      const store2 = SqliteStore.open(join(dir, 'bob.db'));
      const bob2 = await net.client({ store: store2 });
      await bob2.whenSynced();
      assert.deepEqual(await bob2.attachment(received), image, 'the receiver reads it from its store');
      assert.deepEqual(await bob2.downloadAttachment(received), image, 'downloadAttachment is the same call');
      assert.deepEqual(await alice.client.attachment(sent), image, 'the sender too');
      await bob2.close();
      await store2.close();
      assert.deepEqual(net.errors.map((e) => e.event.code), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves files over the limit on the server, fetches them on demand, and says blob_gone once the server deleted them', async () => {
    await using net = await ClientNetwork.start({ config });
    const alice = await net.user();
    const bob = await net.user();
    await bob.client.setMediaSettings({ autoDownloadMaxBytes: 100_000 });
    assert.deepEqual(await bob.client.mediaSettings(), { autoDownloadMaxBytes: 100_000 });
    await assert.rejects(bob.client.setMediaSettings({ autoDownloadMaxBytes: -1 }), (err: unknown) => err instanceof ClientError && err.code === 'bad_request');
    await assert.rejects(bob.client.setMediaSettings({ autoDownloadMaxBytes: 1.5 }), (err: unknown) => err instanceof ClientError && err.code === 'bad_request');
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');

    const big = new Uint8Array(randomBytes(150_000));
    const small = new Uint8Array(randomBytes(20_000));
    await alice.client.send(conv.id, { attachment: big, mimeType: 'application/pdf', fileName: 'big.pdf' });
    await alice.client.send(conv.id, { attachment: small, mimeType: 'image/jpeg', fileName: 'small.jpg' });
    const bigMsg = await lastOf(bob.client, conv.id, 'attachment', 1);
    const smallMsg = await lastOf(bob.client, conv.id, 'attachment', 2);
    await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'the small one is kept');
    // Downloads run in arrival order: once the small (second) one is kept, the big one was passed over.
    assert.deepEqual(await bob.client.mediaUsage(), { bytes: small.length, files: 1 });

    assert.deepEqual(await bob.client.attachment(bigMsg), big, 'on demand');
    assert.deepEqual(await bob.client.mediaUsage(), { bytes: small.length, files: 1 }, 'and not kept: over the limit');

    await serverDeletes(net, digestOf(bigMsg));
    await serverDeletes(net, digestOf(smallMsg));
    await assert.rejects(bob.client.attachment(bigMsg), (err: unknown) => err instanceof ClientError && err.code === 'blob_gone');
    assert.deepEqual(await bob.client.attachment(smallMsg), small);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('clearMedia frees everything; files come back on demand while the server has them; a damaged copy is dropped; logout with wipe leaves no media', async () => {
    await using net = await ClientNetwork.start({ config });
    const alice = await net.user();
    const store = new MemoryStore();
    const bob = await net.user(undefined, { store });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const files = [new Uint8Array(randomBytes(600_000)), new Uint8Array(randomBytes(0)), new Uint8Array(randomBytes(10))];
    for (const [i, f] of files.entries()) await alice.client.send(conv.id, { attachment: f, mimeType: 'application/octet-stream', fileName: `f${i}.bin` });
    const messages = [1, 2, 3].map((n) => lastOf(bob.client, conv.id, 'attachment', n));
    const [m0, m1, m2] = await Promise.all(messages);
    assert.ok(m0 && m1 && m2);
    const total = files.reduce((n, f) => n + f.length, 0);
    await waitFor(async () => (await bob.client.mediaUsage()).files === 3, 'all three kept');
    assert.deepEqual(await bob.client.mediaUsage(), { bytes: total, files: 3 });

    await bob.client.clearMedia();
    assert.deepEqual(await bob.client.mediaUsage(), { bytes: 0, files: 0 });
    assert.deepEqual(await bob.client.attachment(m0), files[0], 'fetched again');
    assert.deepEqual(await bob.client.mediaUsage(), { bytes: files[0]?.length, files: 1 }, 'and kept again');

    // A damaged chunk: the copy fails its check, is dropped and fetched again (the server still has it).
    const [chunk] = await store.list('media', { prefix: 'c/' });
    assert.ok(chunk);
    await store.write([{ type: 'put', table: 'media', key: chunk.key, value: chunk.value.slice(0, -4) + 'AAAA' }]);
    assert.deepEqual(await bob.client.attachment(m0), files[0]);
    assert.equal((await store.list('media', { prefix: 'c/' })).length, 2, 'rewritten');

    // Another message naming the same blob with other secrets does not get the kept copy.
    const c0 = m0.content;
    assert.ok(c0.type === 'attachment');
    await assert.rejects(bob.client.attachment({ ...c0, blob: { ...c0.blob, key: new Uint8Array(32) } }), /failed authentication/);

    await bob.client.logout({ wipe: true });
    assert.deepEqual(await store.list('media'), []);
  });

  it('queues the download in the same batch that stores the message (a crash cannot lose it)', async () => {
    await using net = await ClientNetwork.start({ config });
    const batches: StoreWrite[][] = [];
    // The real MemoryStore, with every batch it applies recorded.
    const store = new (class extends MemoryStore {
      override async write(writes: readonly StoreWrite[]): Promise<void> {
        await super.write(writes);
        batches.push([...writes]);
      }
    })();
    const alice = await net.user();
    const bob = await net.user(undefined, { store });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    await alice.client.send(conv.id, { attachment: new Uint8Array(randomBytes(3000)), mimeType: 'image/gif', fileName: 'x.gif' });
    const received = await lastOf(bob.client, conv.id, 'attachment');
    const digest = digestOf(received);
    const stored = batches.find((b) => b.some((w) => w.type === 'put' && w.table === 'messages' && w.key.startsWith(`${conv.id}/`) && w.key.endsWith(String(received.seq).padStart(16, '0'))));
    assert.ok(stored, 'the batch that stored the message');
    assert.ok(stored.some((w) => w.type === 'put' && w.table === 'media' && w.key === `q/${digest}`), 'holds its queue record');
    await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'then it is kept');
    assert.deepEqual(await store.list('media', { prefix: 'q/' }), [], 'and the queue record is gone');
  });

  it('retries a pending download after the next start, unless it is now over the limit', async () => {
    await using net = await ClientNetwork.start({ config });
    const dir = mkdtempSync(join(tmpdir(), 'parley-media-'));
    try {
      const alice = await net.user();
      const store = SqliteStore.open(join(dir, 'bob.db'));
      const bob = await net.user(undefined, { store });
      await bob.client.setMediaSettings({ autoDownloadMaxBytes: 0 });
      const conv = await alice.client.createConversation([bob.name]);
      await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
      const file = new Uint8Array(randomBytes(5000));
      await alice.client.send(conv.id, { attachment: file, mimeType: 'image/webp', fileName: 'a.webp' });
      const received = await lastOf(bob.client, conv.id, 'attachment');
      // Lowered below the file's size while its download was pending.
      await bob.client.setMediaSettings({ autoDownloadMaxBytes: 1000 });
      await bob.client.close();
      // The app stopped while the download was pending: only its queue record is stored.
      const batch = new StoreBatch();
      new MediaRecords(store).queue(batch, { digest: digestOf(received), conversationId: conv.id, seq: received.seq, attempts: 0 });
      await store.write(batch.writes);
      await store.close();

      // Over the limit in force when it runs: dropped, not fetched.
      const store1 = SqliteStore.open(join(dir, 'bob.db'));
      const bob1 = await net.client({ store: store1 });
      await waitFor(async () => (await store1.list('media', { prefix: 'q/' })).length === 0, 'the job is dropped');
      assert.deepEqual(await bob1.mediaUsage(), { bytes: 0, files: 0 });
      await bob1.setMediaSettings({ autoDownloadMaxBytes: 1_000_000 });
      await bob1.close();
      await store1.write(batch.writes);
      await store1.close();

      const store2 = SqliteStore.open(join(dir, 'bob.db'));
      const bob2 = await net.client({ store: store2 });
      await waitFor(async () => (await bob2.mediaUsage()).files === 1, 'downloaded after the restart');
      assert.deepEqual(await store2.list('media', { prefix: 'q/' }), [], 'the queue record is gone');
      await serverDeletes(net, digestOf(received));
      assert.deepEqual(await bob2.attachment(received), file);
      await bob2.close();
      await store2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends and receives a voice message; oversized or invalid ones are refused before any upload', async () => {
    await using net = await ClientNetwork.start({ config });
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const voice = new Uint8Array(randomBytes(40_000));
    const waveform = new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 4) % 256));
    const sent = await alice.client.send(conv.id, { voice, mimeType: 'audio/ogg;codecs=opus', durationMs: 4200, waveform });
    assert.equal(sent.content.type, 'voice');
    assert.deepEqual(await alice.client.mediaUsage(), { bytes: voice.length, files: 1 });
    const received = await lastOf(bob.client, conv.id, 'voice');
    assert.ok(received.content.type === 'voice');
    assert.equal(received.content.durationMs, 4200);
    assert.equal(received.content.mimeType, 'audio/ogg;codecs=opus');
    assert.deepEqual(received.content.waveform, waveform);
    assert.equal(received.content.blob.size, voice.length);
    await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'bob keeps it');
    assert.deepEqual(await bob.client.attachment(received), voice);

    const before = blobFiles(net);
    const refused = async (input: Parameters<ParleyClient['send']>[1], code: string) => {
      await assert.rejects(alice.client.send(conv.id, input), (err: unknown) => err instanceof ClientError && err.code === code);
    };
    const ok = { voice, mimeType: 'audio/webm', durationMs: 1000, waveform };
    await refused({ ...ok, voice: new Uint8Array(MAX_VOICE_BYTES + 1) }, 'too_large');
    await refused({ ...ok, durationMs: MAX_VOICE_DURATION_MS + 1 }, 'too_large');
    await refused({ ...ok, waveform: new Uint8Array(MAX_WAVEFORM_SAMPLES + 1) }, 'too_large');
    await refused({ ...ok, voice: new Uint8Array(0) }, 'bad_request');
    await refused({ ...ok, durationMs: 0 }, 'bad_request');
    await refused({ ...ok, durationMs: 1.5 }, 'bad_request');
    await refused({ ...ok, mimeType: 'video/mp4' }, 'bad_request');
    assert.equal(blobFiles(net), before, 'nothing was uploaded');
    assert.equal((await alice.client.messages(conv.id)).length, 1, 'nothing was sent');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});
