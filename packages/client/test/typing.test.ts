import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryStore } from '../src/index.js';
import type { TypingEvent } from '../src/index.js';
import { TYPING_EXPIRE_MS } from '../src/messages/typing.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

function storedRows(net: ClientNetwork): number {
  const db = new Database(join(net.server.dataDir, 'parley.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM group_messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('client: typing indicators', () => {
  it('reach live devices of the other members only, are stored nowhere, and expire', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory });
    const bob = await net.user();
    const carolStore = new MemoryStore();
    const carol = await net.user(undefined, { store: carolStore });
    const conv = await alice.client.createConversation([bob.name, carol.name]);
    for (const o of [bob, carol]) await waitFor(async () => (await o.client.conversations()).some((c) => c.id === conv.id && c.members.length === 3), 'joined');
    await alice.client.send(conv.id, 'hello');
    for (const o of [bob, carol]) await waitFor(async () => (await texts(o.client, conv.id)).length === 1, 'received');
    // carol goes offline.
    await carol.client.close();
    await new Promise((r) => setTimeout(r, 300));
    const rowsBefore = storedRows(net);

    const bobSaw: TypingEvent[] = [];
    bob.client.on('typing', (e) => bobSaw.push(e));
    const aliceSaw: TypingEvent[] = [];
    alice.client.on('typing', (e) => aliceSaw.push(e));
    await alice.client.setTyping(conv.id, true);
    // Throttled: keystrokes within 3 s send nothing more.
    await alice.client.setTyping(conv.id, true);
    await alice.client.setTyping(conv.id, true);
    const started = await waitFor(() => bobSaw.find((e) => e.typing), 'bob sees alice typing');
    assert.deepEqual(started, { conversationId: conv.id, userId: alice.client.userId, username: alice.name, typing: true });
    assert.equal(sockets.sent.filter((f) => f.t === 'typing').length, 1, 'one typing frame for three keystrokes');
    await alice.client.setTyping(conv.id, false);
    await waitFor(() => bobSaw.some((e) => !e.typing), 'bob sees alice stop');
    assert.equal(sockets.sent.filter((f) => f.t === 'typing').length, 2);
    // A second 'stopped' sends nothing.
    await alice.client.setTyping(conv.id, false);
    assert.equal(sockets.sent.filter((f) => f.t === 'typing').length, 2);
    assert.deepEqual(aliceSaw, [], 'not shown to the sender');
    assert.equal(storedRows(net), rowsBefore, 'nothing stored on the server');
    assert.deepEqual(await texts(bob.client, conv.id), ['hello'], 'nor in the history');

    // An indicator nobody refreshes goes away by itself.
    bobSaw.length = 0;
    await alice.client.setTyping(conv.id, true);
    await waitFor(() => bobSaw.find((e) => e.typing), 'typing again');
    const t0 = Date.now();
    await waitFor(() => bobSaw.find((e) => !e.typing), 'expired', TYPING_EXPIRE_MS + 3_000);
    assert.ok(Date.now() - t0 >= TYPING_EXPIRE_MS - 1_000);

    // carol comes back: no late typing event, and her later messages decrypt (the ratchet moved past the typing messages).
    const back = await net.client({ store: carolStore });
    const carolSaw: TypingEvent[] = [];
    back.on('typing', (e) => carolSaw.push(e));
    await back.whenSynced();
    await alice.client.send(conv.id, 'after typing');
    await waitFor(async () => (await texts(back, conv.id)).includes('after typing'), 'carol reads the next message');
    assert.deepEqual(carolSaw, []);
    // A message from alice ends bob's indicator of her at once.
    bobSaw.length = 0;
    await alice.client.setTyping(conv.id, true);
    await waitFor(() => bobSaw.find((e) => e.typing), 'typing');
    await alice.client.send(conv.id, 'sent it');
    await waitFor(() => bobSaw.find((e) => !e.typing), 'the message ends it');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('is off, neither sent nor shown, while read receipts are off', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user();
    const bob = await net.user(undefined, { webSocket: sockets.factory });
    // Alice is bob's contact: not a message request (which sends no typing at all, people/).
    await bob.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await bob.client.setReadReceipts(false);
    const bobSaw: TypingEvent[] = [];
    bob.client.on('typing', (e) => bobSaw.push(e));
    const aliceSaw: TypingEvent[] = [];
    alice.client.on('typing', (e) => aliceSaw.push(e));
    await bob.client.setTyping(conv.id, true);
    assert.equal(sockets.sent.filter((f) => f.t === 'typing').length, 0, 'bob sends none');
    await alice.client.setTyping(conv.id, true);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(bobSaw, [], 'bob is shown none');
    // On again: both ways.
    await bob.client.setReadReceipts(true);
    await bob.client.setTyping(conv.id, true);
    await waitFor(() => aliceSaw.find((e) => e.typing), 'alice sees bob');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});
