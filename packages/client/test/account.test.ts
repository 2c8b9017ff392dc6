import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { ClientError, MemoryStore, STORE_TABLES } from '../src/index.js';
import type { ParleyClient, Store } from '../src/index.js';
import { ClientRepository } from '../src/store/records.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

const isClientError = (code: string, check: (err: ClientError) => boolean = () => true) => (err: unknown) => err instanceof ClientError && err.code === code && check(err);

async function tableSizes(store: Store): Promise<number[]> {
  return Promise.all(STORE_TABLES.map(async (t) => (await store.list(t)).length));
}

/** A TCP server that accepts connections and never answers: a server lost in the network. */
async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port nothing listens on: connections are refused at once. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('client: users, verification, sign-out and sending offline', () => {
  it('looks users up by name; unknown and impossible names are unknown_user', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const found = await alice.client.lookupUser(bob.name);
    assert.deepEqual(found, { userId: bob.client.userId, username: bob.name });
    // The server's normalisation: case folds.
    assert.deepEqual(await alice.client.lookupUser(bob.name.toUpperCase()), found);
    assert.equal((await alice.client.lookupUser(alice.name)).userId, alice.client.userId);
    for (const name of ['nobody-here-xyz', '', 'a', 'has space', 'x'.repeat(200), 'пaypal']) {
      await assert.rejects(alice.client.lookupUser(name), isClientError('unknown_user'), JSON.stringify(name));
    }
  });

  it('verification holds while the safety number is unchanged; a new or revoked device on either side ends it', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const initial = await alice.client.verification(bob.name);
    assert.equal(initial.verified, false);
    assert.match(initial.safetyNumber, /^\d{5}( \d{5}){11}$/);
    assert.equal((await bob.client.verification(alice.name)).safetyNumber, initial.safetyNumber, 'the same number on both sides');
    assert.equal(await alice.client.safetyNumber(bob.name), initial.safetyNumber);

    await alice.client.setVerified(bob.name, true, { expectedSafetyNumber: initial.safetyNumber });
    assert.deepEqual(await alice.client.verification(bob.name), { safetyNumber: initial.safetyNumber, verified: true });
    assert.equal((await bob.client.verification(alice.name)).verified, false, 'verification is per side');

    // Bob adds a device: the number changes, alice's verification ends.
    const bob2 = await net.device(bob);
    const afterAdd = await alice.client.verification(bob.name);
    assert.notEqual(afterAdd.safetyNumber, initial.safetyNumber);
    assert.equal(afterAdd.verified, false);
    // Verifying against the number shown before the change is refused.
    await assert.rejects(alice.client.setVerified(bob.name, true, { expectedSafetyNumber: initial.safetyNumber }), isClientError('safety_number_changed'));
    assert.equal((await alice.client.verification(bob.name)).verified, false);
    await alice.client.setVerified(bob.name, true);
    assert.equal((await alice.client.verification(bob.name)).verified, true);

    // Bob revokes it again: back to the first number, which is not the one alice verified last.
    const bob2Id = bob2.deviceId;
    assert.ok(bob2Id);
    await bob.client.revokeDevice(bob2Id);
    const afterRevoke = await alice.client.verification(bob.name);
    assert.equal(afterRevoke.safetyNumber, initial.safetyNumber);
    assert.equal(afterRevoke.verified, false);
    await alice.client.setVerified(bob.name, true);

    // Alice's own new device changes the number too.
    await net.device(alice);
    assert.equal((await alice.client.verification(bob.name)).verified, false);
    await alice.client.setVerified(bob.name, true);
    assert.equal((await alice.client.verification(bob.name)).verified, true);
    await alice.client.setVerified(bob.name, false);
    assert.equal((await alice.client.verification(bob.name)).verified, false);

    await assert.rejects(alice.client.verification(alice.name), isClientError('bad_request'));
    await assert.rejects(alice.client.verification('nobody-here-xyz'), isClientError('unknown_user'));
  });

  it('logout without wipe keeps the store; with wipe it empties every table and ends the server session', async () => {
    await using net = await ClientNetwork.start();
    const bob = await net.user();
    const keep = new MemoryStore();
    const kept = await net.user(undefined, { store: keep });
    await kept.client.logout();
    assert.ok((await new ClientRepository(keep).account()) !== undefined, 'a plain logout keeps the account and keys');

    const store = new MemoryStore();
    const alice = await net.user(undefined, { store });
    const conv = await alice.client.createConversation([bob.name]);
    await alice.client.send(conv.id, 'to be wiped');
    // Kept on the device at send time: the media table holds it.
    await alice.client.send(conv.id, { attachment: new Uint8Array([1, 2, 3]), mimeType: 'image/png', fileName: 'wiped.png' });
    await alice.client.setVerified(bob.name, true);
    const token = (await new ClientRepository(store).account())?.token;
    assert.ok(token);
    assert.ok((await tableSizes(store)).every((n) => n > 0), 'every table holds something');

    await alice.client.logout({ wipe: true });
    assert.deepEqual(await tableSizes(store), STORE_TABLES.map(() => 0));
    assert.equal((await net.server.http('GET', '/v1/devices', { token })).status, 401, 'the server session is gone');
    assert.equal(alice.client.userId, undefined);
    await assert.rejects(alice.client.send(conv.id, 'after'), isClientError('closed'));
  });

  it('logout with wipe still wipes and resolves when the server cannot be reached', async () => {
    await using net = await ClientNetwork.start();
    const refused = await closedPortUrl();
    const hole = await blackHole();
    try {
      for (const serverUrl of [refused, hole.url]) {
        const store = new MemoryStore();
        const user = await net.user(undefined, { store });
        await user.client.close();
        // The same device, now cut off from its server.
        const offline = await net.client({ store, serverUrl });
        assert.equal(offline.username, user.name);
        const started = Date.now();
        await offline.logout({ wipe: true });
        assert.ok(Date.now() - started < 8_000, `did not hang (${Date.now() - started} ms)`);
        assert.deepEqual(await tableSizes(store), STORE_TABLES.map(() => 0), serverUrl);
      }
    } finally {
      await hole.close();
    }
  });

  it('send fails promptly while offline (not sent), works again after reconnecting, and reports a lost reply as unknown', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory, offlineSendTimeoutMs: 300 });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.send(conv.id, 'online');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob reads');

    const states: string[] = [];
    alice.client.on('connection', (e) => states.push(e.state));
    sockets.setOffline(true);
    await waitFor(() => states.includes('offline'), 'alice notices');
    for (const input of ['while offline', { attachment: new Uint8Array([1, 2, 3]), mimeType: 'application/octet-stream', fileName: 'x.bin' }]) {
      const started = Date.now();
      await assert.rejects(alice.client.send(conv.id, input), isClientError('disconnected', (e) => e.detail?.['delivery'] === 'not_sent'));
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2_000, `failed after the offline timeout, promptly (${took} ms)`);
    }
    assert.deepEqual(await texts(alice.client, conv.id), ['online'], 'nothing was stored');

    sockets.setOffline(false);
    await waitFor(() => states.includes('synced'), 'alice is back');
    await alice.client.send(conv.id, 'retried');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('retried'), 'bob reads the retry');

    // The server stores the message but its reply is lost with the connection: the outcome is unknown to alice.
    sockets.dropNextReply();
    const started = Date.now();
    await assert.rejects(alice.client.send(conv.id, 'reply lost'), isClientError('disconnected', (e) => e.detail?.['delivery'] === 'unknown'));
    assert.ok(Date.now() - started < 2_000, 'promptly');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('reply lost'), 'it did reach bob');
    // Alice reconnects; the server stored it at a seq she never received: it joins her history from the kept plaintext.
    await waitFor(() => states.filter((s) => s === 'synced').length >= 2, 'alice resynced');
    await alice.client.send(conv.id, 'after the lost reply');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('after the lost reply'), 'bob reads on');
    assert.deepEqual(await texts(bob.client, conv.id), ['online', 'retried', 'reply lost', 'after the lost reply']);
    assert.deepEqual(await texts(alice.client, conv.id), ['online', 'retried', 'reply lost', 'after the lost reply']);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('send before sign-in fails with not_logged_in', async () => {
    await using net = await ClientNetwork.start();
    const fresh: ParleyClient = await net.client();
    await assert.rejects(fresh.send('AAAAAAAAAAAAAAAAAAAAAA' as never, 'x'), isClientError('not_logged_in'));
  });
});
