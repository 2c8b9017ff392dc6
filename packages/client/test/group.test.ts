import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importDeviceIdentity, TsMlsEngine } from '@parley/crypto';
import { splitFrame } from '@parley/protocol';
import { MemoryStore } from '../src/index.js';
import { ClientRepository } from '../src/store/records.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

describe('client: groups and devices', () => {
  it('runs a 3-user group: everyone reads everyone, in the same order', async () => {
    await using net = await ClientNetwork.start();
    const [alice, bob, carol] = [await net.user(), await net.user(), await net.user()];
    const conv = await alice.client.createConversation([bob.name, carol.name], { title: 'trio' });
    for (const u of [bob, carol]) await waitFor(async () => (await u.client.conversations()).some((c) => c.id === conv.id && c.title === 'trio'), 'join');
    await alice.client.send(conv.id, 'a1');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'b got a1');
    await bob.client.send(conv.id, 'b1');
    await waitFor(async () => (await texts(carol.client, conv.id)).length === 2, 'c got a1 b1');
    await carol.client.send(conv.id, 'c1');
    for (const u of [alice, bob, carol]) await waitFor(async () => (await texts(u.client, conv.id)).length === 3, 'all got 3');
    const expected = ['a1', 'b1', 'c1'];
    for (const u of [alice, bob, carol]) assert.deepEqual(await texts(u.client, conv.id), expected);
    const seqs = (await carol.client.messages(conv.id)).map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('adds a user\'s second device to existing conversations; it reads new messages and is in new ones', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await bob.client.send(conv.id, 'before the second device');

    const alice2 = await net.device(alice);
    assert.notEqual(alice2.deviceId, alice.client.deviceId);
    assert.equal(alice2.userId, alice.client.userId);
    // alice's first device notices the new device (here on demand; also periodically and on membership changes)
    await alice.client.syncDevices();
    await waitFor(async () => (await alice2.conversations()).some((c) => c.id === conv.id), 'alice2 joins the 1:1');
    const joined = await waitFor(async () => (await alice2.conversations()).find((c) => c.id === conv.id && c.members.every((m) => m.username !== null)), 'roster');
    assert.deepEqual(joined.members.map((m) => m.username).sort(), [alice.name, bob.name].sort());

    await bob.client.send(conv.id, 'after the second device');
    await waitFor(async () => (await texts(alice2, conv.id)).includes('after the second device'), 'alice2 reads');
    assert.deepEqual(await texts(alice2, conv.id), ['after the second device'], 'no history from before it joined');
    await alice2.send(conv.id, 'from alice2');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('from alice2'), 'bob reads alice2');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('from alice2'), 'alice1 reads alice2');

    // a new conversation by bob includes both of alice's devices
    const conv2 = await bob.client.createConversation([alice.name]);
    await bob.client.send(conv2.id, 'to both');
    for (const c of [alice.client, alice2]) await waitFor(async () => (await texts(c, conv2.id)).includes('to both'), 'both alice devices read');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('keeps what a conversation was created as: 1:1 stays direct, a group stays a group at two members, a joining device waits for the roster', async () => {
    await using net = await ClientNetwork.start();
    const [alice, bob, carol] = [await net.user(), await net.user(), await net.user()];
    const chat = await alice.client.createConversation([bob.name]);
    assert.equal(chat.kind, 'direct');
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === chat.id && c.kind === 'direct'), 'bob sees a 1:1');

    // An untitled group that shrinks to two members is still a group, on every device.
    const group = await alice.client.createConversation([bob.name, carol.name]);
    assert.equal(group.kind, 'group');
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === group.id && c.kind === 'group'), 'bob sees a group');
    const after = await alice.client.removeMember(group.id, carol.name);
    assert.equal(after.members.length, 2);
    assert.equal(after.kind, 'group');
    await waitFor(async () => (await bob.client.conversation(group.id)).members.length === 2, 'bob sees carol leave');
    assert.equal((await bob.client.conversation(group.id)).kind, 'group');

    // A new device learns each kind from the roster; until then it does not guess.
    const kindsSeen = new Map<string, Array<string | null>>();
    const alice2 = await net.device(alice);
    alice2.on('conversation', (c) => kindsSeen.set(c.id, [...(kindsSeen.get(c.id) ?? []), c.kind]));
    await alice.client.syncDevices();
    await waitFor(async () => (await alice2.conversation(chat.id).catch(() => undefined))?.kind === 'direct', 'alice2: the 1:1 is direct');
    await waitFor(async () => (await alice2.conversation(group.id).catch(() => undefined))?.kind === 'group', 'alice2: the group is a group');
    for (const id of [chat.id, group.id]) assert.equal(kindsSeen.get(id)?.[0], null, 'unknown right after the Welcome');

    // Adding a third user to a 1:1 makes it a group; asking for a 1:1 with two others is refused.
    const grown = await bob.client.addMembers(chat.id, [carol.name]);
    assert.equal(grown.kind, 'group');
    await waitFor(async () => (await alice.client.conversation(chat.id)).kind === 'group', 'alice sees the 1:1 become a group');
    await assert.rejects(alice.client.createConversation([bob.name, carol.name], { kind: 'direct' }), (err: Error & { code?: string }) => err.code === 'bad_request');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('removes a member (all devices); the removed user reads nothing new, the rest carry on', async () => {
    await using net = await ClientNetwork.start();
    const aliceSockets = new RecordingSockets();
    const carolStore = new MemoryStore();
    const [alice, bob, carol] = [await net.user(undefined, { webSocket: aliceSockets.factory }), await net.user(), await net.user(undefined, { store: carolStore })];
    const carol2 = await net.device(carol);
    const conv = await alice.client.createConversation([bob.name, carol.name]);
    for (const c of [bob.client, carol.client, carol2]) await waitFor(async () => (await c.conversations()).length === 1, 'join');
    await alice.client.send(conv.id, 'everyone');
    for (const c of [bob.client, carol.client, carol2]) await waitFor(async () => (await texts(c, conv.id)).length === 1, 'everyone reads');

    // The most carol's device ever held: its MLS state just before the removal.
    const repo = new ClientRepository(carolStore);
    const stateBefore = await repo.group(conv.id);
    const removedEvents: boolean[] = [];
    carol.client.on('membership', (e) => removedEvents.push(e.removedSelf));
    const after = await alice.client.removeMember(conv.id, carol.name);
    assert.deepEqual(after.members.map((m) => m.username).sort(), [alice.name, bob.name].sort());
    for (const c of [carol.client, carol2]) await waitFor(async () => (await c.conversation(conv.id)).status === 'removed', 'carol devices removed');
    assert.ok(removedEvents.includes(true));
    await alice.client.send(conv.id, 'without carol');
    await bob.client.send(conv.id, 'bob too');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 3, 'bob reads');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 3, 'alice reads');
    await new Promise((r) => setTimeout(r, 300));
    for (const c of [carol.client, carol2]) {
      assert.deepEqual(await texts(c, conv.id), ['everyone'], 'removed devices read nothing new');
      await assert.rejects(c.send(conv.id, 'let me in'), /no longer/);
    }
    assert.deepEqual((await bob.client.conversation(conv.id)).members.map((m) => m.username).sort(), [alice.name, bob.name].sort());

    // Even handed the ciphertext, carol's keys cannot read it: the new epoch's secrets never reached her.
    const lastSend = aliceSockets.sent.filter((f) => f.t === 'send').at(-1);
    assert.ok(lastSend);
    const ciphertext = splitFrame(lastSend.bytes).payload;
    const account = await repo.account();
    assert.ok(account && stateBefore);
    const engine = await TsMlsEngine.create({ identity: await importDeviceIdentity(account.identity), directory: () => true });
    const group = await engine.loadGroup(stateBefore);
    await assert.rejects(group.processIncoming(ciphertext), (err: Error) => err.name === 'MlsOperationError' && /epoch/.test(err.message));
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('leaves a conversation: the proposal is committed by another member', async () => {
    await using net = await ClientNetwork.start();
    const [alice, bob, carol] = [await net.user(), await net.user(), await net.user()];
    const conv = await alice.client.createConversation([bob.name, carol.name]);
    for (const u of [bob, carol]) await waitFor(async () => (await u.client.conversations()).length === 1, 'join');
    await carol.client.leave(conv.id);
    assert.equal((await carol.client.conversation(conv.id)).status, 'left');
    await waitFor(async () => (await alice.client.conversation(conv.id)).members.length === 2, 'carol is gone for alice');
    await waitFor(async () => (await bob.client.conversation(conv.id)).members.length === 2, 'carol is gone for bob');
    await bob.client.send(conv.id, 'after carol left');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('after carol left'), 'alice reads');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await texts(carol.client, conv.id), []);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('adds a new device by itself (periodic sync) and removes a revoked one from every conversation', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, { deviceSyncIntervalMs: 300 });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');

    const alice2 = await net.device(alice);
    await waitFor(async () => (await alice2.conversations()).some((c) => c.id === conv.id), 'alice2 added without being asked');
    const aliceDevices = async () => (await bob.client.conversation(conv.id)).members.find((m) => m.username === alice.name)?.devices.length;
    await waitFor(async () => (await aliceDevices()) === 2, 'bob sees both of alice\'s devices');
    const devices = await alice.client.devices();
    assert.deepEqual(devices.map((d) => d.current).sort(), [false, true]);
    const fatal: string[] = [];
    alice2.on('error', (e) => fatal.push(e.code));

    await alice.client.revokeDevice(alice2.deviceId ?? assert.fail('no device id'));
    await waitFor(() => fatal.includes('fatal'), 'the revoked device is told and stops');
    assert.equal((await alice.client.devices()).find((d) => d.id === alice2.deviceId)?.revoked, true);
    await bob.client.send(conv.id, 'after the revocation');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('after the revocation'), 'alice1 still reads');
    assert.deepEqual(await texts(alice2, conv.id), []);
    // The revoked device's leaf is gone from the group, for bob too.
    await waitFor(async () => (await aliceDevices()) === 1, 'bob sees one device of alice');
    assert.deepEqual(net.errors.filter((e) => e.client !== alice2).map((e) => e.event.code), []);
  });
});

