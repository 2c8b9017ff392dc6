import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { splitFrame } from '@parley/protocol';
import { standardSocketFactory } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

describe('client: 1:1 chat', () => {
  it('registers two users, creates a 1:1 conversation and exchanges messages both ways', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name], { title: 'lunch' });
    assert.equal(conv.members.length, 2);
    const bobConv = await waitFor(async () => (await bob.client.conversations()).find((c) => c.id === conv.id && c.title === 'lunch'), 'bob joins with the title');
    assert.deepEqual(bobConv.members.map((m) => m.username).sort(), [alice.name, bob.name].sort());

    await alice.client.send(conv.id, 'hi bob');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob receives');
    await bob.client.send(conv.id, 'hi alice');
    await bob.client.send(conv.id, 'how are you?');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 3, 'alice receives');
    assert.deepEqual(await texts(alice.client, conv.id), ['hi bob', 'hi alice', 'how are you?']);
    assert.deepEqual(await texts(bob.client, conv.id), ['hi bob', 'hi alice', 'how are you?']);
    const [first] = await bob.client.messages(conv.id);
    assert.equal(first?.sender.username, alice.name);
    assert.equal(first?.outgoing, false);
    assert.equal(await alice.client.safetyNumber(bob.name), await bob.client.safetyNumber(alice.name));
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it("lets a received message's acknowledgement ride on the reply instead of its own frame", async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user();
    // A long ack delay makes the reply the only way the acknowledgement can leave in time.
    const bob = await net.user(undefined, { webSocket: sockets.factory, ackDelayMs: 60_000 });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.send(conv.id, 'ping');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob receives');
    const [received] = await bob.client.messages(conv.id);
    const acksBefore = sockets.sent.filter((f) => f.t === 'ack').length;
    await bob.client.send(conv.id, 'pong');
    const sends = sockets.sent.filter((f) => f.t === 'send').map((f) => splitFrame(f.bytes).header as { ack?: number });
    assert.equal(sends.at(-1)?.ack, received?.seq, 'the reply carries the acknowledgement of what bob stored');
    assert.equal(sockets.sent.filter((f) => f.t === 'ack').length, acksBefore, 'no separate ack frame');
    // The next message has nothing new to acknowledge.
    await bob.client.send(conv.id, 'again');
    const last = sockets.sent.filter((f) => f.t === 'send').map((f) => splitFrame(f.bytes).header as { ack?: number }).at(-1);
    assert.equal(last?.ack, undefined);
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 3, 'alice receives both');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('works over the standard (browser-style) WebSocket adapter', async () => {
    await using net = await ClientNetwork.start();
    // ws implements the WHATWG interface (addEventListener, binaryType): the adapter browsers and Node 22 use.
    const standard = standardSocketFactory(WebSocket as unknown as Parameters<typeof standardSocketFactory>[0]);
    const alice = await net.user(undefined, { webSocket: standard });
    const bob = await net.user(undefined, { webSocket: standard });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.send(conv.id, 'over the standard adapter');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob receives');
    await bob.client.send(conv.id, 'and back');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 2, 'alice receives');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});
