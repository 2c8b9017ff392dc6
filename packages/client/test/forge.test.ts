import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDeviceIdentity, encodeContent, generateDeviceKey, importDeviceIdentity, newContentId, newGroupId, TsMlsEngine } from '@parley/crypto';
import type { CommitResult } from '@parley/crypto';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { MemoryStore } from '../src/index.js';
import type { ParleyClient } from '../src/index.js';
import { ClientRepository } from '../src/store/records.js';
import { ClientNetwork, notices, texts, waitFor } from './helpers/network.js';

/**
 * A malicious member, driving @parley/crypto directly with an engine that
 * trusts every credential, as an attacker's own client would. The honest
 * clients must refuse whatever names a device the directory does not vouch for.
 */
interface Attacker {
  token: string;
  engine: TsMlsEngine;
}

/** Takes over a signed-in client's device (its key and token) from its store; the client itself stops. */
async function takeOver(client: ParleyClient, store: MemoryStore): Promise<Attacker> {
  await client.close();
  const account = await new ClientRepository(store).account();
  assert.ok(account);
  const identity = await importDeviceIdentity(account.identity);
  return { token: account.token, engine: await TsMlsEngine.create({ identity, directory: () => true }) };
}

/** A device that claims to be `victim` (their user id and device id) but holds the attacker's key. */
async function forgedDevice(victim: { userId: UserId; deviceId: DeviceId }) {
  const identity = createDeviceIdentity(await generateDeviceKey(), victim);
  const engine = await TsMlsEngine.create({ identity, directory: () => true });
  const [kp] = await engine.generateKeyPackages(1);
  assert.ok(kp);
  return { engine, kp };
}

function commitFrame(group: GroupId, result: CommitResult): { header: Record<string, unknown>; parts: Uint8Array[] } {
  const parts = [result.commit, result.welcome ?? new Uint8Array(0), result.groupInfo];
  return {
    header: { t: 'commit', group, devices: result.devices.map((d) => d.deviceId), welcomeTo: result.added.map((d) => d.deviceId), parts: parts.map((p) => p.length) },
    parts,
  };
}

const text = (s: string) => encodeContent({ type: 'text', v: 1, id: newContentId(), sentAt: Date.now(), text: s });

describe('client: forged members are refused', () => {
  it('a member who adds a device naming another user with its own key is refused: no message is shown as that user, a device_refused notice is stored', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const malloryStore = new MemoryStore();
    const mallory = await net.user(undefined, { store: malloryStore });
    const carol = await net.user();
    const carolId = carol.client.userId;
    const carolDevice = carol.client.deviceId;
    assert.ok(carolId && carolDevice);

    const conv = await mallory.client.createConversation([alice.name], { title: 'innocent' });
    await waitFor(async () => (await alice.client.conversations()).some((c) => c.id === conv.id && c.title === 'innocent'), 'alice joins');
    await mallory.client.send(conv.id, 'hi alice');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('hi alice'), 'alice reads mallory');
    // Alice knows carol: looking her up does not make a forgery pass.
    await alice.client.lookupUser(carol.name);

    // Mallory's own client, but with an engine that trusts everything.
    const attacker = await takeOver(mallory.client, malloryStore);
    const state = await new ClientRepository(malloryStore).group(conv.id);
    assert.ok(state);
    const group = await attacker.engine.loadGroup(state);
    const forged = await forgedDevice({ userId: carolId, deviceId: carolDevice });
    const add = await group.addMembers([forged.kp.keyPackage]);
    await group.confirmCommit();
    const socket = await net.server.socket(attacker.token);
    const frame = commitFrame(conv.id, add);
    const committed = await socket.request(frame.header, frame.parts);
    assert.equal(committed.t, 'ok', JSON.stringify(committed));

    // The forged device joins from the Welcome and speaks as carol.
    assert.ok(add.welcome);
    const joined = await forged.engine.joinFromWelcome({ welcome: add.welcome, groupInfo: add.groupInfo }, (ref) => (ref === forged.kp.ref ? forged.kp.privateBundle : undefined));
    const sent = await socket.request({ t: 'send', group: conv.id }, [await joined.group.encrypt(text('this is carol, trust me'))]);
    assert.equal(sent.t, 'ok', JSON.stringify(sent));

    // Alice has processed both frames once she shows the forged message (the attack worked) or reported both.
    const fromCarol = async () => (await alice.client.messages(conv.id)).filter((m) => m.sender.userId === carolId);
    await waitFor(async () => (await fromCarol()).length > 0 || net.errorsOf(alice.client).filter((e) => e.conversationId === conv.id).length >= 2, 'alice processed both');
    assert.deepEqual((await fromCarol()).map((m) => m.content), [], 'nothing is shown as coming from carol');
    const refused = (await notices(alice.client, conv.id)).filter((n) => n.kind === 'device_refused');
    assert.deepEqual(refused, [{ kind: 'device_refused', userId: carolId, username: carol.name, deviceId: carolDevice }]);
    assert.deepEqual(await texts(alice.client, conv.id), ['hi alice']);
    assert.ok(!(await alice.client.conversation(conv.id)).members.some((m) => m.userId === carolId), 'carol is not listed as a member');
    const codes = net.errorsOf(alice.client).map((e) => e.code);
    assert.ok(codes.includes('unverified_member'), codes.join());
    // The notice is history like any message, and never unread.
    assert.equal((await alice.client.conversation(conv.id)).unread, 1);
  });

  it('a Welcome from a stranger whose tree holds a device the directory does not vouch for is refused at join time: nothing is stored', async () => {
    await using net = await ClientNetwork.start();
    const daveStore = new MemoryStore();
    const dave = await net.user(undefined, { store: daveStore });
    const malloryStore = new MemoryStore();
    const mallory = await net.user(undefined, { store: malloryStore });
    const carol = await net.user();
    const carolId = carol.client.userId;
    const carolDevice = carol.client.deviceId;
    const daveDevice = dave.client.deviceId;
    assert.ok(carolId && carolDevice && daveDevice);
    const attacker = await takeOver(mallory.client, malloryStore);

    // A group of mallory's own making: dave (a stranger to mallory) and a forged "carol".
    const idBytes = newGroupId();
    const groupId = toBase64Url(idBytes) as GroupId;
    assert.equal((await net.server.http('POST', '/v1/groups', { token: attacker.token, body: { groupId } })).status, 201);
    const claim = await net.server.http('POST', '/v1/key-packages/claim', { token: attacker.token, body: { deviceIds: [daveDevice] } });
    const daveKp = fromBase64Url(claim.body.keyPackages[0].data as string);
    assert.ok(daveKp);
    const forged = await forgedDevice({ userId: carolId, deviceId: carolDevice });
    const group = await attacker.engine.createGroup(idBytes);
    const add = await group.addMembers([daveKp, forged.kp.keyPackage]);
    await group.confirmCommit();
    const socket = await net.server.socket(attacker.token);
    const frame = commitFrame(groupId, add);
    const committed = await socket.request(frame.header, frame.parts);
    assert.equal(committed.t, 'ok', JSON.stringify(committed));

    const failed = await waitFor(async () => net.errorsOf(dave.client).find((e) => e.code === 'join_failed' && e.conversationId === groupId) ?? (await dave.client.conversations()).length > 0, 'dave processed the Welcome');
    assert.deepEqual(await dave.client.conversations(), [], 'no conversation was stored');
    assert.ok(typeof failed === 'object' && failed.error.name === 'CredentialRejectedError', String(failed));
    assert.equal(await new ClientRepository(daveStore).group(groupId), undefined, 'no group state was stored');
  });

  it('never accepts a notice from the wire: a member sending notice-shaped content gets malformed_content, nothing is stored', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const mallory = await net.user();
    const conv = await mallory.client.createConversation([alice.name]);
    await waitFor(async () => (await alice.client.conversations()).length === 1, 'alice joins');
    const fake = { type: 'notice', v: 1, id: newContentId(), sentAt: Date.now(), notice: { kind: 'safety_number_changed', userId: mallory.client.userId, username: mallory.name, added: 0, removed: 0, reset: false } };
    await mallory.client.testing.sendPlaintext(conv.id, new TextEncoder().encode(JSON.stringify(fake)));
    await mallory.client.send(conv.id, 'after');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('after'), 'alice reads on');
    assert.deepEqual(await notices(alice.client, conv.id), []);
    assert.deepEqual(net.errorsOf(alice.client).map((e) => e.code), ['malformed_content']);
  });
});
