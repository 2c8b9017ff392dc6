import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryStore } from '../src/index.js';
import type { GroupId, Message, ParleyClient, Store } from '../src/index.js';
import { ClientNetwork, waitFor } from './helpers/network.js';

/** What the media table holds, by kind of record (h: kept files, c: chunks, q: pending downloads). */
async function mediaRecords(store: Store): Promise<{ h: number; c: number; q: number }> {
  const rows = await store.list('media');
  const count = (p: string) => rows.filter((r) => r.key.startsWith(p)).length;
  return { h: count('h/'), c: count('c/'), q: count('q/') };
}

async function firstAttachment(client: ParleyClient, conversationId: GroupId): Promise<Message> {
  return waitFor(async () => (await client.messages(conversationId)).find((m) => m.content.type === 'attachment'), 'the attachment arrives');
}

describe('client: kept media goes with its message', () => {
  it('delete for everyone removes the kept copy on the receiver and the sender, and a later open does not keep it again', async () => {
    await using net = await ClientNetwork.start();
    const aliceStore = new MemoryStore();
    const bobStore = new MemoryStore();
    const alice = await net.user(undefined, { store: aliceStore });
    const bob = await net.user(undefined, { store: bobStore });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const image = new Uint8Array(randomBytes(700_000));
    const sent = await alice.client.send(conv.id, { attachment: image, mimeType: 'image/png', fileName: 'oops.png' });
    const received = await firstAttachment(bob.client, conv.id);
    await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'bob keeps it');
    assert.deepEqual(await mediaRecords(aliceStore), { h: 1, c: 2, q: 0 });

    await alice.client.deleteForEveryone(conv.id, { seq: sent.seq, id: sent.id });
    await waitFor(async () => (await bob.client.message(conv.id, received.seq))?.deleted === true, 'bob sees the delete');
    assert.deepEqual(await mediaRecords(bobStore), { h: 0, c: 0, q: 0 }, 'nothing of it left on the receiver');
    assert.deepEqual(await mediaRecords(aliceStore), { h: 0, c: 0, q: 0 }, 'nor on the sender');
    // An app still holding the old message object: the server may still serve the blob, but it is not kept again.
    assert.deepEqual(await bob.client.attachment(received), image);
    assert.deepEqual(await mediaRecords(bobStore), { h: 0, c: 0, q: 0 });
  });

  it('a disappearing message takes its kept copy with it', async () => {
    await using net = await ClientNetwork.start();
    const bobStore = new MemoryStore();
    const alice = await net.user();
    const bob = await net.user(undefined, { store: bobStore });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    await alice.client.setDisappearing(conv.id, 5 * 60_000);
    await waitFor(async () => (await bob.client.conversation(conv.id)).disappearAfterMs === 5 * 60_000, 'bob has the timer');
    const image = new Uint8Array(randomBytes(20_000));
    await alice.client.send(conv.id, { attachment: image, mimeType: 'image/png', fileName: 'brief.png' });
    const received = await firstAttachment(bob.client, conv.id);
    await waitFor(async () => (await bob.client.mediaUsage()).files === 1, 'bob keeps it');
    await bob.client.close();

    // Bob's device comes back ten minutes later: the message is due, and goes with its media.
    const later = await net.client({ store: bobStore, now: () => Date.now() + 10 * 60_000 });
    await waitFor(async () => (await later.message(conv.id, received.seq)) === null, 'the message expired');
    assert.deepEqual(await mediaRecords(bobStore), { h: 0, c: 0, q: 0 });
    assert.deepEqual(await later.mediaUsage(), { bytes: 0, files: 0 });
  });
});
