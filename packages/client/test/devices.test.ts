import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { createDeviceIdentity, exportDeviceIdentity, generateDeviceKey, signWithDevice } from '@parley/crypto';
import { encodeLinkUri, linkApprovalMessage, parseLinkUri } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { ClientError, MemoryStore, STORE_TABLES } from '../src/index.js';
import type { Notice, Store } from '../src/index.js';
import { ClientRepository, StoreBatch } from '../src/store/records.js';
import { ClientNetwork, notices, texts, waitFor } from './helpers/network.js';

const isClientError = (code: string, check: (err: ClientError) => boolean = () => true) => (err: unknown) => err instanceof ClientError && err.code === code && check(err);

async function isEmpty(store: Store): Promise<boolean> {
  for (const t of STORE_TABLES) if ((await store.list(t)).length > 0) return false;
  return true;
}

describe('client: devices, sign-in, linking, starting over, password', () => {
  it('login on a fresh store is new_device; a linked device reads nothing until an existing device approves it, then joins every conversation', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bobStore = new MemoryStore();
    const bob = await net.user(undefined, { store: bobStore });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');

    const freshStore = new MemoryStore();
    const fresh = await net.client({ store: freshStore });
    await assert.rejects(fresh.login(alice.name, alice.password), isClientError('new_device'));
    assert.ok(await isEmpty(freshStore));

    const link = await fresh.linkDevice(alice.name, alice.password);
    assert.match(link.code, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    assert.ok(link.expiresAt > Date.now());
    const qr = parseLinkUri(link.uri);
    assert.equal(qr?.deviceId, link.deviceId);
    assert.equal(qr?.userId, alice.client.userId);

    // While pending: nothing stored, nothing listed, nothing readable.
    await bob.client.send(conv.id, 'while pending');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('while pending'), 'alice reads');
    assert.ok(await isEmpty(freshStore), 'the pending device stores nothing');
    const bobToken = (await new ClientRepository(bobStore).account())?.token;
    assert.ok(bobToken);
    const directory = await net.server.http('GET', `/v1/users/${alice.name}/devices`, { token: bobToken });
    assert.equal(directory.status, 200);
    assert.ok(!(directory.body.devices as Array<{ id: string }>).some((d) => d.id === link.deviceId), 'a pending device is not in the directory');
    assert.deepEqual((await alice.client.devices()).find((d) => d.id === link.deviceId)?.status, 'pending');

    // What the approving device sees; a typed code cannot check the key, a QR code does.
    const byCode = await alice.client.inspectLink(link.code.toLowerCase());
    assert.deepEqual({ ...byCode, expiresAt: undefined }, { deviceId: link.deviceId, createdDay: byCode.createdDay, expiresAt: undefined, keyChecked: false }, 'no name: the server holds none in clear');
    assert.equal((await alice.client.inspectLink(link.uri)).keyChecked, true);
    await assert.rejects(bob.client.inspectLink(link.code), isClientError('link_not_found'), 'another user cannot see it');
    await assert.rejects(alice.client.inspectLink('not a code'), isClientError('link_not_found'));
    // A QR code whose key is not the server's: a substituted key is caught before approving.
    assert.ok(qr);
    const otherKey = (await generateDeviceKey()).signaturePublicKey;
    await assert.rejects(alice.client.approveLink(encodeLinkUri({ ...qr, signatureKey: otherKey })), isClientError('link_key_mismatch'));
    assert.equal((await alice.client.devices()).find((d) => d.id === link.deviceId)?.status, 'pending', 'still pending');

    await alice.client.approveLink(link.uri);
    await link.approved;
    assert.equal(fresh.deviceId, link.deviceId);
    assert.equal(fresh.userId, alice.client.userId);
    await waitFor(async () => (await fresh.conversations()).some((c) => c.id === conv.id), 'alice added her new device');
    await bob.client.send(conv.id, 'after approval');
    await waitFor(async () => (await texts(fresh, conv.id)).includes('after approval'), 'the new device reads');
    assert.deepEqual(await texts(fresh, conv.id), ['after approval'], 'nothing from before it was approved');
    await fresh.send(conv.id, 'from the new device');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('from the new device'), 'bob reads it');
    // Bob sees that alice's devices changed.
    await waitFor(async () => (await notices(bob.client, conv.id)).length === 1, 'bob has a notice');
    assert.deepEqual(await notices(bob.client, conv.id), [{ kind: 'safety_number_changed', userId: alice.client.userId, username: alice.name, added: 1, removed: 0, reset: false }]);
    const noticeMessage = (await bob.client.messages(conv.id)).find((m) => m.content.type === 'notice');
    assert.ok(noticeMessage && noticeMessage.sender.deviceId === bob.client.deviceId && !noticeMessage.outgoing);
    assert.deepEqual(await notices(alice.client, conv.id), [], 'no notice about one\'s own devices');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('never adds an own device the server activated without a valid approval; a properly linked device still joins', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const storage = net.server.ctx.storage;
    const aliceDevice = alice.client.deviceId as DeviceId;
    const bobDevice = bob.client.deviceId as DeviceId;

    // A malicious server: pending devices (keys it could hold) made active without alice's devices approving them.
    const forge = async (activate: (deviceId: DeviceId) => Promise<void>) => {
      const fake = await net.client();
      const link = await fake.linkDevice(alice.name, alice.password);
      await activate(link.deviceId as DeviceId);
      await link.approved;
      await fake.whenSynced();
      await waitFor(async () => (await storage.countKeyPackages(link.deviceId as DeviceId, Math.floor(Date.now() / 1000))).available > 0, 'the fake device has key packages');
      return { client: fake, deviceId: link.deviceId as DeviceId };
    };
    const raw = (sql: string, ...params: unknown[]) => {
      const db = new Database(join(net.server.dataDir, 'parley.db'));
      try {
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    };
    const wrongSignature = await forge((d) => storage.approveDevice(d, aliceDevice, Math.floor(Date.now() / 1000), randomBytes(64)));
    const otherUsersApprover = await forge(async (d) => {
      raw("UPDATE devices SET status = 'active', approved_by = ?, approval = ? WHERE id = ?", bobDevice, randomBytes(64), d);
      raw('DELETE FROM device_links WHERE device_id = ?', d);
    });
    const noApproval = await forge(async (d) => {
      raw("UPDATE devices SET status = 'active' WHERE id = ?", d);
      raw('DELETE FROM device_links WHERE device_id = ?', d);
    });
    // A chain: the server "approves" a fake device with a device of its own (listed active, without an approver),
    // whose key it holds — the signature verifies, but leads back to nothing alice's devices know.
    const rootKey = await generateDeviceKey();
    const rootId = randomBytes(16).toString('base64url') as DeviceId;
    await storage.addPendingDevice(alice.client.userId as UserId, { id: rootId, signatureKey: rootKey.signaturePublicKey }, '2026-12-03', { tokenHash: randomBytes(32), expiresAt: 2e9 }, { codeHash: randomBytes(32), expiresAt: 2e9 });
    raw("UPDATE devices SET status = 'active' WHERE id = ?", rootId);
    raw('DELETE FROM device_links WHERE device_id = ?', rootId);
    const chained = await forge(async (d) => {
      const key = (await storage.getDevice(d))?.signatureKey ?? new Uint8Array(0);
      const signature = await signWithDevice(rootKey, linkApprovalMessage(alice.client.userId as UserId, d, key));
      await storage.approveDevice(d, rootId, Math.floor(Date.now() / 1000), signature);
    });
    const fakes = [wrongSignature, otherUsersApprover, noApproval, chained];

    // The directory lists them as active: the server's own view is not what decides.
    const listed = await alice.client.devices();
    for (const f of fakes) assert.equal(listed.find((d) => d.id === f.deviceId)?.status, 'active');

    await alice.client.syncDevices();
    const proper = await net.device(alice);
    await waitFor(async () => (await proper.conversations()).some((c) => c.id === conv.id), 'the properly linked device joins');
    await alice.client.syncDevices();

    const members = (await alice.client.conversation(conv.id)).members.find((m) => m.userId === alice.client.userId)?.devices ?? [];
    assert.deepEqual([...members].sort(), [aliceDevice, proper.deviceId].sort(), 'only the approved device was added');
    for (const f of fakes) assert.deepEqual(await f.client.conversations(), [], 'a fake device receives no Welcome');
    await bob.client.send(conv.id, 'only for real devices');
    await waitFor(async () => (await texts(proper, conv.id)).includes('only for real devices'), 'the real device reads');
    const refused = net
      .errorsOf(alice.client)
      .filter((e) => e.code === 'device_unapproved')
      .map((e) => (e.error as ClientError).detail?.['deviceId']);
    assert.deepEqual([...refused].sort(), [...fakes.map((f) => f.deviceId), rootId].sort(), 'each fake device is reported once');
    const reasons = new Map(net.errorsOf(alice.client).filter((e) => e.code === 'device_unapproved').map((e) => [(e.error as ClientError).detail?.['deviceId'], (e.error as ClientError).detail?.['reason']]));
    assert.deepEqual(
      fakes.map((f) => reasons.get(f.deviceId)),
      ['bad_signature', 'unknown_approver', 'no_approval', 'untrusted_approver'],
    );
    // A conversation created now leaves them out too.
    const later = await alice.client.createConversation([bob.name]);
    const laterMembers = (await alice.client.conversation(later.id)).members.find((m) => m.userId === alice.client.userId)?.devices ?? [];
    assert.deepEqual([...laterMembers].sort(), [aliceDevice, proper.deviceId].sort());
  });

  it('a rejected or cancelled link never reads anything and never becomes a device', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');

    const store = new MemoryStore();
    const rejected = await net.client({ store });
    const link = await rejected.linkDevice(alice.name, alice.password);
    await assert.rejects(rejected.linkDevice(alice.name, alice.password), isClientError('already_logged_in'));
    await alice.client.rejectLink(link.code);
    await assert.rejects(link.approved, isClientError('link_rejected'));
    await assert.rejects(alice.client.approveLink(link.uri), isClientError('link_not_found'), 'a rejected link cannot be approved afterwards');
    assert.equal((await alice.client.devices()).find((d) => d.id === link.deviceId), undefined, 'a rejected device is gone, not kept as revoked');
    await bob.client.send(conv.id, 'not for the rejected device');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('not for the rejected device'), 'alice reads');
    assert.ok(await isEmpty(store));
    assert.equal(rejected.userId, undefined);
    await assert.rejects(rejected.conversation(conv.id), isClientError('unknown_conversation'));

    const cancelledStore = new MemoryStore();
    const cancelled = await net.client({ store: cancelledStore });
    const link2 = await cancelled.linkDevice(alice.name, alice.password);
    await link2.cancel();
    await assert.rejects(link2.approved, isClientError('closed'));
    // Even approved afterwards, the withdrawn device keeps nothing and joins nothing (its key is gone with it).
    await alice.client.approveLink(link2.code).catch(() => undefined);
    await bob.client.send(conv.id, 'after the withdrawal');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('after the withdrawal'), 'alice reads');
    assert.ok(await isEmpty(cancelledStore));
    assert.equal(cancelled.userId, undefined);

    // A wrong password gets no link at all.
    await assert.rejects((await net.client()).linkDevice(alice.name, 'not the password'), isClientError('invalid_credentials'));
    assert.deepEqual((await alice.client.conversation(conv.id)).members.find((m) => m.userId === alice.client.userId)?.devices, [alice.client.deviceId]);
  });

  it('login on a store that holds the device signs the challenge with its key; a store whose key was replaced cannot sign in', async () => {
    await using net = await ClientNetwork.start();
    const store = new MemoryStore();
    const alice = await net.user(undefined, { store });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.logout();
    // Someone with the password and a copy of the store's records, but another key under the same device id.
    const forgedStore = await copyStore(store);
    const repo = new ClientRepository(forgedStore);
    const account = await repo.account();
    assert.ok(account);
    const impostor = createDeviceIdentity(await generateDeviceKey(), { userId: account.userId, deviceId: account.deviceId });
    await repo.commit(new StoreBatch().putAccount({ ...account, identity: exportDeviceIdentity(impostor) }));

    // The device resumes with its ended session; the server refuses it; it signs in again.
    const back = await net.client({ store });
    assert.equal(back.userId, alice.client.userId);
    await waitFor(() => net.errorsOf(back).some((e) => e.code === 'fatal'), 'the old session is refused');
    await assert.rejects(back.login(alice.name, 'wrong password'), isClientError('invalid_credentials'));
    await back.login(alice.name, alice.password);
    await back.whenSynced();
    await bob.client.send(conv.id, 'welcome back');
    await waitFor(async () => (await texts(back, conv.id)).includes('welcome back'), 'the same device reads again');
    await assert.rejects(back.login(alice.name, alice.password), isClientError('already_logged_in'));

    const forged = await net.client({ store: forgedStore });
    await waitFor(() => net.errorsOf(forged).some((e) => e.code === 'fatal'), 'the copied session is refused');
    await assert.rejects(forged.login(alice.name, alice.password), isClientError('invalid_credentials'));
    assert.deepEqual((await alice.client.devices().catch(() => back.devices())).filter((d) => d.status === 'active').length, 1);
  });

  it('resetIdentity: contacts see a reset notice in each chat, add the new device, and a verified contact must confirm before sending', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    const direct = await alice.client.createConversation([bob.name]);
    const group = await carol.client.createConversation([alice.name, bob.name], { title: 'trio' });
    await waitFor(async () => (await bob.client.conversations()).length === 2, 'bob joins both');
    await waitFor(async () => (await alice.client.conversations()).length === 2, 'alice joins both');
    await alice.client.setVerified(bob.name, true);
    const oldBobUser = bob.client.userId;
    const oldBobDevice = bob.client.deviceId;

    // Bob lost his only device and starts over on a new one.
    const fatal: string[] = [];
    bob.client.on('error', (e) => fatal.push(e.code));
    const newBob = await net.client();
    await newBob.resetIdentity(bob.name, bob.password);
    assert.equal(newBob.userId, oldBobUser, 'the same account');
    assert.notEqual(newBob.deviceId, oldBobDevice);
    await waitFor(() => fatal.includes('fatal'), 'the old device is revoked');

    const reset: Notice = { kind: 'safety_number_changed', userId: oldBobUser as NonNullable<typeof oldBobUser>, username: bob.name, added: 1, removed: 1, reset: true };
    for (const c of [alice.client, carol.client]) {
      for (const conv of c === alice.client ? [direct, group] : [group]) {
        await waitFor(async () => (await notices(c, conv.id)).length === 1, 'a notice');
        assert.deepEqual(await notices(c, conv.id), [reset]);
      }
    }
    await waitFor(async () => (await newBob.conversations()).length === 2, 'the new device was added back to both conversations');
    assert.equal((await alice.client.verification(bob.name)).verified, false, 'the verification is reset');
    assert.equal((await alice.client.conversation(direct.id)).unread, 0, 'a notice is never unread');

    // Alice verified bob: she is asked before writing to him again.
    await assert.rejects(
      alice.client.send(direct.id, 'to the new bob'),
      isClientError('safety_number_changed', (e) => JSON.stringify(e.detail?.['users']) === JSON.stringify([{ userId: oldBobUser, username: bob.name }])),
    );
    await assert.rejects(alice.client.send(group.id, 'to the trio'), isClientError('safety_number_changed'));
    // Carol never verified bob: she just writes.
    await carol.client.send(group.id, 'carol writes on');
    await alice.client.send(direct.id, 'confirmed', { confirmSafetyNumberChange: true });
    await waitFor(async () => (await texts(newBob, direct.id)).includes('confirmed'), 'the new device reads it');
    await alice.client.send(group.id, 'no second question');
    await waitFor(async () => (await texts(newBob, group.id)).includes('no second question'), 'and the group');
    assert.ok((await texts(newBob, group.id)).includes('carol writes on'));
    assert.equal((await alice.client.verification(bob.name)).verified, false, 'confirming does not verify');
    await alice.client.setVerified(bob.name, true);
    assert.equal((await alice.client.verification(bob.name)).verified, true);
    assert.deepEqual(net.errors.filter((e) => e.client !== bob.client).map((e) => e.event.code), []);
  });

  it('changePassword re-checks the current password; signOutOthers ends the other sessions, which sign in again with the new password and their key', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const store2 = new MemoryStore();
    const alice2 = await net.device(alice, { store: store2 });
    const bob = await net.user();
    const conv = await bob.client.createConversation([alice.name]);
    await waitFor(async () => (await alice2.conversations()).length === 1, 'alice2 joins');

    await assert.rejects(alice.client.changePassword('wrong', 'a new strong password'), (err: unknown) => err instanceof ClientError && err.server);
    await assert.rejects(alice.client.changePassword(alice.password, 'short'), (err: unknown) => err instanceof ClientError && (err.code === 'weak_password' || err.code === 'bad_request'));
    const newPassword = 'another correct horse battery';
    const fatal: string[] = [];
    alice2.on('error', (e) => fatal.push(e.code));
    await alice.client.changePassword(alice.password, newPassword, { signOutOthers: true });
    // The server closes its live socket at once (4001, after an error frame): it stops, without waiting for a request to be refused.
    await waitFor(async () => fatal.includes('fatal'), 'the other device is signed out at once');
    assert.ok(fatal.every((code) => code === 'server' || code === 'fatal'), fatal.join());
    await assert.rejects(alice2.devices(), (err: unknown) => err instanceof ClientError && (err.code === 'unauthenticated' || err.code === 'closed'));
    await bob.client.send(conv.id, 'still for alice');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('still for alice'), 'this device stays signed in');

    await assert.rejects(alice2.login(alice.name, alice.password), isClientError('invalid_credentials'), 'the old password is gone');
    await alice2.login(alice.name, newPassword);
    await waitFor(async () => (await texts(alice2, conv.id)).includes('still for alice'), 'the other device reads again, as the same device');
    assert.equal((await alice.client.devices()).filter((d) => d.status === 'active').length, 2);
    // Without signOutOthers, nobody is signed out.
    await alice.client.changePassword(newPassword, alice.password);
    await bob.client.send(conv.id, 'one more');
    await waitFor(async () => (await texts(alice2, conv.id)).includes('one more'), 'alice2 still reads');
  });
});

/** A copy of every record of a store (keys, history, session token). */
async function copyStore(store: Store): Promise<MemoryStore> {
  const copy = new MemoryStore();
  for (const table of STORE_TABLES) {
    const rows = await store.list(table);
    if (rows.length > 0) await copy.write(rows.map((r) => ({ type: 'put' as const, table, key: r.key, value: r.value })));
  }
  return copy;
}
