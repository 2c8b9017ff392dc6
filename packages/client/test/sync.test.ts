import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../src/node.js';
import type { Message } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

describe('client: ordering, races and reconnects', () => {
  it('resolves concurrent commits through epoch_conflict and retry, losing no member and no message', async () => {
    await using net = await ClientNetwork.start();
    const aliceSockets = new RecordingSockets();
    const bobSockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: aliceSockets.factory });
    const bob = await net.user(undefined, { webSocket: bobSockets.factory });
    const carol = await net.user();
    const dave = await net.user();
    const erin = await net.user();
    // Alice is their contact: no message request, so nothing (a reply's accept, the profile key it shares) is sent late, at the old epoch.
    for (const u of [bob, carol]) await u.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name, carol.name]);
    for (const u of [bob, carol]) await waitFor(async () => (await u.client.conversations()).length === 1, 'join');

    // Both commits are built for the same epoch, then released together: exactly one wins.
    aliceSockets.hold('commit');
    bobSockets.hold('commit');
    const adds = [alice.client.addMembers(conv.id, [dave.name]), bob.client.addMembers(conv.id, [erin.name])];
    await Promise.all([aliceSockets.whenHolding(), bobSockets.whenHolding()]);
    // Messages sent meanwhile, at the old epoch, must not be lost either.
    await carol.client.send(conv.id, 'during the race');
    aliceSockets.release();
    bobSockets.release();
    await Promise.all(adds);
    assert.equal(aliceSockets.errors('epoch_conflict') + bobSockets.errors('epoch_conflict'), 1, 'one commit lost the race and was retried');

    const everyone = [alice, bob, carol, dave, erin];
    for (const u of everyone) {
      await waitFor(async () => (await u.client.conversations()).find((c) => c.id === conv.id)?.members.length === 5, `${u.name} sees 5 members`);
    }
    for (const [i, u] of everyone.entries()) await u.client.send(conv.id, `hello from ${i}`);
    const expected = ['during the race', ...everyone.map((_, i) => `hello from ${i}`)];
    for (const u of [alice, bob, carol]) await waitFor(async () => (await texts(u.client, conv.id)).length === expected.length, `${u.name} reads all`);
    for (const u of [alice, bob, carol]) assert.deepEqual(await texts(u.client, conv.id), expected);
    for (const u of [dave, erin]) await waitFor(async () => (await texts(u.client, conv.id)).length === 5, `${u.name} reads what came after joining`);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('reconnects with backoff and catches up in order, each message stored and emitted exactly once', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bobSockets = new RecordingSockets();
    const bob = await net.user(undefined, { webSocket: bobSockets.factory });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const events: Message[] = [];
    bob.client.on('message', (m) => events.push(m));
    const states: string[] = [];
    bob.client.on('connection', (e) => states.push(e.state));

    const sent: string[] = [];
    for (let i = 0; i < 60; i++) {
      const text = `m${i}`;
      sent.push(text);
      await alice.client.send(conv.id, text);
      // Drop bob's socket now and then, typically between receiving and acknowledging.
      if (i % 15 === 7) bob.client.testing.dropConnection();
    }
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 60, 'bob has all 60');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await texts(bob.client, conv.id), sent, 'in order, no gaps, no duplicates');
    assert.deepEqual(events.map((m) => (m.content.type === 'text' ? m.content.text : '')), sent, 'each message emitted exactly once');
    assert.ok(states.filter((s) => s === 'offline').length >= 1, 'the connection really dropped');
    const delivered = bobSockets.received.filter((f) => f.t === 'msg' && f.kind === 'application').length;
    assert.ok(delivered > 60, `the server redelivered unacknowledged messages (${delivered} deliveries), and the client deduped them`);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('catches up after being offline (a restart from a SQLite store) in order, without duplicates', async () => {
    await using net = await ClientNetwork.start();
    const dir = mkdtempSync(join(tmpdir(), 'parley-client-'));
    try {
      const alice = await net.user();
      const store = SqliteStore.open(join(dir, 'bob.db'));
      const bob = await net.user(undefined, { store });
      const conv = await alice.client.createConversation([bob.name]);
      await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
      await alice.client.send(conv.id, 'before');
      await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob reads');
      await bob.client.close();
      await store.close();

      const sent: string[] = [];
      for (let i = 0; i < 25; i++) {
        sent.push(`offline ${i}`);
        await alice.client.send(conv.id, `offline ${i}`);
      }
      const store2 = SqliteStore.open(join(dir, 'bob.db'));
      const bob2 = await net.client({ store: store2 });
      assert.equal(bob2.username, bob.name, 'resumed from the store');
      const events: string[] = [];
      bob2.on('message', (m) => events.push(m.content.type === 'text' ? m.content.text : ''));
      await bob2.whenSynced();
      await waitFor(async () => (await texts(bob2, conv.id)).length === 26, 'caught up');
      assert.deepEqual(await texts(bob2, conv.id), ['before', ...sent]);
      assert.deepEqual(events, sent);
      await bob2.send(conv.id, 'back online');
      await waitFor(async () => (await texts(alice.client, conv.id)).includes('back online'), 'alice reads');
      await bob2.close();
      await store2.close();
      assert.deepEqual(net.errors.map((e) => e.event.code), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
