import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { accountKeyId, openDeviceName, SEALED_DEVICE_NAME_BYTES, sealedKeyId } from '@parley/crypto';
import { fromBase64Url, selfGroupId } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { ClientError, MemoryStore } from '../src/index.js';
import type { ParleyClient } from '../src/index.js';
import { ClientRepository, StoreBatch } from '../src/store/records.js';
import { ClientNetwork, waitFor } from './helpers/network.js';

/** id → name as `client` shows its user's devices (null: "Unnamed device"). */
async function names(client: ParleyClient): Promise<Record<string, string | null>> {
  return Object.fromEntries((await client.devices()).filter((d) => !d.revoked).map((d) => [d.id, d.name]));
}

/** What the server stores for each device: devices.name, read straight from its database file. */
function storedNames(dataDir: string): Map<string, string | null> {
  const db = new Database(join(dataDir, 'parley.db'), { readonly: true });
  try {
    return new Map((db.prepare('SELECT id, name FROM devices').all() as Array<{ id: string; name: string | null }>).map((r) => [r.id, r.name]));
  } finally {
    db.close();
  }
}

function raw(dataDir: string, sql: string, ...params: unknown[]): void {
  const db = new Database(join(dataDir, 'parley.db'));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** Every byte the server keeps on disk (database, its WAL, blobs) and every log line, as one buffer. */
function serverBytes(net: ClientNetwork): Buffer {
  const parts: Buffer[] = [Buffer.from(net.server.logs.join('\n'))];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else parts.push(readFileSync(p));
    }
  };
  walk(net.server.dataDir);
  return Buffer.concat(parts);
}

const isClientError = (code: string) => (err: unknown) => err instanceof ClientError && err.code === code;

describe('client: device names, encrypted under the account key', () => {
  it('own devices read every name; the server holds only same-size ciphertext; another user sees none', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, { deviceName: 'Alice’s work laptop' });
    const laptop = alice.client.deviceId as DeviceId;
    // The first device made the self group and the key, and sealed its own name.
    await waitFor(() => storedNames(net.server.dataDir).get(laptop), 'the laptop uploads its name');
    assert.deepEqual(await names(alice.client), { [laptop]: 'Alice’s work laptop' });

    const phone = await net.device(alice, { deviceName: 'Alice’s phone 📱' });
    const phoneId = phone.deviceId as DeviceId;
    // The laptop adds the phone to the self group and sends it the key; the phone seals its own name.
    const both = { [laptop]: 'Alice’s work laptop', [phoneId]: 'Alice’s phone 📱' };
    await waitFor(async () => JSON.stringify(await names(phone)) === JSON.stringify(both), 'the phone reads both names');
    await waitFor(async () => JSON.stringify(await names(alice.client)) === JSON.stringify(both), 'the laptop reads both names');

    // A third device, linked later, gets the keys and reads names sealed before it existed.
    const tablet = await net.device(alice, { deviceName: '平板电脑' });
    await waitFor(async () => (await names(tablet))[laptop] === 'Alice’s work laptop' && (await names(tablet))[phoneId] === 'Alice’s phone 📱', 'the tablet reads the older names');
    await waitFor(async () => (await names(phone))[tablet.deviceId as DeviceId] === '平板电脑', 'the phone reads the tablet’s name');

    // On the server: base64url of one fixed size, under one key id, nothing of the names anywhere on disk or in the logs.
    const stored = storedNames(net.server.dataDir);
    const sealed = [laptop, phoneId, tablet.deviceId as DeviceId].map((d) => fromBase64Url(stored.get(d) ?? ''));
    for (const s of sealed) assert.equal(s?.length, SEALED_DEVICE_NAME_BYTES);
    assert.equal(new Set(sealed.map((s) => sealedKeyId(s ?? new Uint8Array(0)))).size, 1, 'one account key');
    const everything = serverBytes(net);
    for (const marker of ['work laptop', 'phone 📱', '平板电脑']) {
      for (const encoded of [Buffer.from(marker, 'utf8'), Buffer.from(marker, 'utf16le'), Buffer.from(Buffer.from(marker).toString('base64url')), Buffer.from(Buffer.from(marker).toString('hex'))]) {
        assert.equal(everything.indexOf(encoded), -1, `the server holds "${marker}" in some form`);
      }
    }

    // Another user: the directory carries no names, and alice's devices cannot be renamed by him.
    const bobStore = new MemoryStore();
    const bob = await net.user(undefined, { store: bobStore });
    const bobToken = await tokenOf(bobStore);
    const directory = await net.server.http('GET', `/v1/users/${alice.name}/devices`, { token: bobToken });
    assert.equal(directory.status, 200);
    assert.ok((directory.body.devices as object[]).every((d) => !('name' in d) && !('encryptedName' in d)));
    const rename = await net.server.http('PUT', `/v1/devices/${laptop}/name`, { token: bobToken, body: { encryptedName: stored.get(laptop) } });
    assert.equal(rename.status, 404);
    assert.equal(storedNames(net.server.dataDir).get(laptop), stored.get(laptop));
    // Bob's own devices are his alone: his list has his one device, named, and nothing of alice's.
    assert.deepEqual(Object.values(await names(bob.client)), ['Parley client']);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a swapped or tampered name shows as unnamed with an error event; the device it belongs to puts its own back', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, { deviceName: 'Laptop' });
    const phone = await net.device(alice, { deviceName: 'Phone' });
    const laptopId = alice.client.deviceId as DeviceId;
    const phoneId = phone.deviceId as DeviceId;
    await waitFor(async () => (await names(alice.client))[phoneId] === 'Phone' && (await names(phone))[laptopId] === 'Laptop', 'both names readable');

    // The server swaps the two names: each is bound to its device id, so neither opens as the other.
    const before = storedNames(net.server.dataDir);
    raw(net.server.dataDir, 'UPDATE devices SET name = ? WHERE id = ?', before.get(laptopId), phoneId);
    raw(net.server.dataDir, 'UPDATE devices SET name = ? WHERE id = ?', before.get(phoneId), laptopId);
    const seen = await names(alice.client);
    assert.equal(seen[phoneId], null, 'the phone is unnamed on the laptop');
    assert.equal(seen[laptopId], 'Laptop', 'a device always knows its own name');
    assert.deepEqual(
      net.errorsOf(alice.client).map((e) => [e.code, (e.error as ClientError).detail?.['deviceId'], (e.error as ClientError).detail?.['reason']]),
      [['device_name', phoneId, 'decrypt_failed']],
    );
    // Reported once per ciphertext, not at every look.
    await names(alice.client);
    assert.equal(net.errorsOf(alice.client).length, 1);
    // The laptop saw that the server's copy of its own name is wrong and uploaded it again.
    await waitFor(async () => (await names(phone))[laptopId] === 'Laptop', 'the laptop put its name back');

    // A flipped byte, garbage and a truncated value: unnamed, never a crash.
    for (const bad of [flip(storedNames(net.server.dataDir).get(laptopId) ?? '', 40), 'not base64url!', 'AAAA']) {
      raw(net.server.dataDir, 'UPDATE devices SET name = ? WHERE id = ?', bad, laptopId);
      assert.equal((await names(phone))[laptopId], null);
    }
    assert.ok(net.errorsOf(phone).every((e) => e.code === 'device_name'));
    assert.ok(net.errorsOf(phone).length >= 2);
  });

  it('revoking a device makes a new key: names are sealed again under it, and the revoked device never gets it', async () => {
    await using net = await ClientNetwork.start();
    const stores = { laptop: new MemoryStore(), phone: new MemoryStore(), lost: new MemoryStore() };
    const alice = await net.user(undefined, { deviceName: 'Laptop', store: stores.laptop });
    const phone = await net.device(alice, { deviceName: 'Phone', store: stores.phone });
    const lost = await net.device(alice, { deviceName: 'Lost tablet', store: stores.lost });
    const ids = { laptop: alice.client.deviceId as DeviceId, phone: phone.deviceId as DeviceId, lost: lost.deviceId as DeviceId };
    await waitFor(async () => (await names(phone))[ids.lost] === 'Lost tablet' && (await names(lost))[ids.phone] === 'Phone', 'all names readable');
    const lostKeys = await keysOf(stores.lost);
    const oldId = await accountKeyId(lostKeys.at(-1) ?? new Uint8Array(0));

    await alice.client.revokeDevice(ids.lost);
    // The laptop removed the lost tablet from the self group, made a new key and sealed every readable name with it.
    await waitFor(() => {
      const stored = storedNames(net.server.dataDir);
      return [ids.laptop, ids.phone].every((d) => sealedKeyId(fromBase64Url(stored.get(d) ?? '') ?? new Uint8Array(0)) !== oldId);
    }, 'names sealed under the new key');
    // The phone gets the new key (after the old one) and holds both.
    const newKeys = await waitFor(async () => ((await keysOf(stores.phone)).length === 2 ? keysOf(stores.phone) : undefined), 'the phone gets the new key');
    assert.deepEqual(newKeys[0], lostKeys[0]);
    assert.deepEqual(await keysOf(stores.lost), lostKeys, 'the revoked tablet never got the new key');
    assert.deepEqual(await keysOf(stores.laptop), newKeys);
    const stored = storedNames(net.server.dataDir);
    // The revoked tablet's keys open none of the names now on the server.
    for (const d of [ids.laptop, ids.phone]) {
      await assert.rejects(openDeviceName(lostKeys, { userId: alice.client.userId as UserId, deviceId: d }, fromBase64Url(stored.get(d) ?? '') ?? new Uint8Array(0)));
    }
    assert.deepEqual(await names(phone), { [ids.laptop]: 'Laptop', [ids.phone]: 'Phone' });
  });

  it('after starting over, the new device makes a new self group and key; devices linked to it read its name', async () => {
    await using net = await ClientNetwork.start();
    const oldStore = new MemoryStore();
    const alice = await net.user(undefined, { deviceName: 'Old phone', store: oldStore });
    await waitFor(() => storedNames(net.server.dataDir).get(alice.client.deviceId as DeviceId), 'the old phone uploads its name');
    const oldKeys = await keysOf(oldStore);
    const freshStore = new MemoryStore();
    const fresh = await net.client({ deviceName: 'New phone', store: freshStore });
    await fresh.resetIdentity(alice.name, alice.password);
    await fresh.whenSynced();
    await waitFor(() => storedNames(net.server.dataDir).get(fresh.deviceId as DeviceId), 'the new phone uploads its name');
    const newKeys = await keysOf(freshStore);
    assert.equal(newKeys.length, 1);
    assert.notDeepEqual(newKeys[0], oldKeys[0], 'a new identity, a new key');
    const laptop = await net.device({ client: fresh, name: alice.name, password: alice.password }, { deviceName: 'New laptop' });
    await waitFor(async () => (await names(laptop))[fresh.deviceId as DeviceId] === 'New phone', 'the laptop reads the new phone’s name');
    await waitFor(async () => (await names(fresh))[laptop.deviceId as DeviceId] === 'New laptop', 'and the other way round');
    assert.deepEqual([...net.errorsOf(fresh), ...net.errorsOf(laptop)].map((e) => e.code), []);
  });

  it('the self group is never a conversation: not listed, no events, refused by every call', async () => {
    await using net = await ClientNetwork.start();
    const events: string[] = [];
    const aliceStore = new MemoryStore();
    const alice = await net.user(undefined, { deviceName: 'Laptop', store: aliceStore });
    alice.client.on('conversation', (c) => events.push(`conversation ${c.id}`));
    alice.client.on('membership', (m) => events.push(`membership ${m.conversationId}`));
    alice.client.on('message', (m) => events.push(`message ${m.conversationId}`));
    const phone = await net.device(alice, { deviceName: 'Phone' });
    phone.on('conversation', (c) => events.push(`conversation ${c.id}`));
    const self = selfGroupId(alice.client.userId as UserId);
    await waitFor(async () => (await names(phone))[alice.client.deviceId as DeviceId] === 'Laptop', 'the phone got the key');
    // The server has the group, with both devices.
    const info = await net.server.http('GET', `/v1/groups/${self}`, { token: await tokenOf(aliceStore) });
    assert.equal(info.status, 200);
    assert.equal((info.body.devices as string[]).length, 2);

    for (const c of [alice.client, phone]) {
      assert.deepEqual(await c.conversations(), []);
      assert.deepEqual(await c.conversationSummaries(), []);
      await assert.rejects(c.conversation(self), isClientError('unknown_conversation'));
      await assert.rejects(c.messages(self), isClientError('unknown_conversation'));
      await assert.rejects(c.send(self, 'hello'), isClientError('unknown_conversation'));
      await assert.rejects(c.markRead(self, 1), isClientError('unknown_conversation'));
      await assert.rejects(c.leave(self), isClientError('unknown_conversation'));
      await assert.rejects(c.setTitle(self, 'x'), isClientError('unknown_conversation'));
    }
    assert.deepEqual(events, []);
    // Another user cannot take a self-group id, neither alice's nor one of their own making for her.
    const bobStore = new MemoryStore();
    const bob = await net.user(undefined, { store: bobStore });
    const taken = await net.server.http('POST', '/v1/groups', { token: await tokenOf(bobStore), body: { groupId: selfGroupId('AAAAAAAAAAAAAAAAAAAAAA' as UserId) } });
    assert.equal(taken.status, 403);
    assert.equal(taken.body.code, 'forbidden');
    // Normal conversations are unaffected.
    const chat = await alice.client.createConversation([bob.name]);
    assert.deepEqual((await alice.client.conversations()).map((c) => c.id), [chat.id]);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('devices racing to create the self group end up in one group with one key; an upgraded device uploads the name from its options', async () => {
    await using net = await ClientNetwork.start();
    const laptopStore = new MemoryStore();
    const phoneStore = new MemoryStore();
    const alice = await net.user(undefined, { store: laptopStore, deviceName: 'Laptop' });
    const phone = await net.device(alice, { store: phoneStore, deviceName: 'Phone' });
    await waitFor(async () => (await names(phone))[alice.client.deviceId as DeviceId] === 'Laptop', 'the phone got the key');
    // As after the upgrade: neither device has a self group, the server has none, names are gone, and the
    // account records have no name (from before names were encrypted).
    await alice.client.close();
    await phone.close();
    const self = selfGroupId(alice.client.userId as UserId) as GroupId;
    for (const store of [laptopStore, phoneStore]) {
      const repo = new ClientRepository(store);
      const account = await repo.account();
      assert.ok(account);
      const { deviceName: _dropped, ...old } = account;
      await repo.commit(new StoreBatch().putAccount(old).deleteGroup(self).putAccountKeys([]));
    }
    for (const sql of ['DELETE FROM group_messages WHERE group_id = ?', 'DELETE FROM welcome_recipients WHERE group_id = ?', 'DELETE FROM welcomes WHERE group_id = ?', 'DELETE FROM queue_charges WHERE group_id = ?', 'DELETE FROM group_devices WHERE group_id = ?', 'DELETE FROM mls_groups WHERE id = ?']) {
      raw(net.server.dataDir, sql, self);
    }
    raw(net.server.dataDir, 'UPDATE devices SET name = NULL');

    // Both start at once, with new names in their options: one creates the group, the other is added.
    const [laptop2, phone2] = await Promise.all([net.client({ store: laptopStore, deviceName: 'Laptop (new)' }), net.client({ store: phoneStore, deviceName: 'Phone (new)' })]);
    const expected = { [laptop2.deviceId as string]: 'Laptop (new)', [phone2.deviceId as string]: 'Phone (new)' };
    await waitFor(async () => JSON.stringify(await names(laptop2)) === JSON.stringify(expected) && JSON.stringify(await names(phone2)) === JSON.stringify(expected), 'both read both names', 20_000);
    assert.deepEqual(await keysOf(laptopStore), await keysOf(phoneStore));
    assert.equal((await keysOf(laptopStore)).length, 1);
    assert.deepEqual(
      net.errors.filter((e) => e.client === laptop2 || e.client === phone2).map((e) => e.event.code),
      [],
    );
  });
});

function flip(text: string, at: number): string {
  const bytes = fromBase64Url(text) ?? new Uint8Array(0);
  bytes[at] = (bytes[at] ?? 0) ^ 1;
  return Buffer.from(bytes).toString('base64url');
}

/** The account keys a device's store holds. */
function keysOf(store: MemoryStore): Promise<Uint8Array[]> {
  return new ClientRepository(store).accountKeys();
}

/** The session token a device's store holds (to call the server as that device). */
async function tokenOf(store: MemoryStore): Promise<string> {
  const account = await new ClientRepository(store).account();
  assert.ok(account);
  return account.token;
}
