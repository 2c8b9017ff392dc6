import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selfGroupId } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import { ClientError, MAX_NICKNAME_LENGTH } from '../src/index.js';
import type { Contact, ParleyClient } from '../src/index.js';
import { ClientNetwork, waitFor } from './helpers/network.js';
import { isClientError } from './helpers/errors.js';
import { RecordingSockets } from './helpers/sockets.js';

async function names(client: ParleyClient): Promise<string[]> {
  return (await client.contacts.list()).map((c) => `${c.username}${c.nickname === null ? '' : `=${c.nickname}`}`).sort();
}

describe('client: contacts', () => {
  it('adds, renames and removes contacts on one device and the other follows; a device linked later gets the list', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const phone = await net.device(alice);
    const bob = await net.user();
    const carol = await net.user();
    const seen: Contact[][] = [];
    phone.on('contacts', (list) => seen.push(list));

    const added = await alice.client.contacts.add(bob.name, { nickname: '  Bobby  ' });
    assert.deepEqual({ ...added, addedAt: 0 }, { userId: bob.client.userId, username: bob.name, nickname: 'Bobby', addedAt: 0 });
    await alice.client.contacts.add(carol.name.toUpperCase());
    assert.deepEqual(await names(alice.client), [`${bob.name}=Bobby`, carol.name].sort());
    await waitFor(async () => (await names(phone)).length === 2, 'the phone has both contacts');
    assert.deepEqual(await names(phone), await names(alice.client));
    assert.ok(seen.length > 0, 'a contacts event on the phone');

    // A nickname set on the phone reaches the first device; removing there reaches the phone.
    await phone.contacts.setNickname(carol.client.userId as UserId, 'Caz');
    await waitFor(async () => (await alice.client.contacts.get(carol.client.userId as UserId))?.nickname === 'Caz', 'nickname synced');
    await alice.client.contacts.remove(bob.client.userId as UserId);
    await waitFor(async () => (await phone.contacts.get(bob.client.userId as UserId)) === null, 'removal synced');
    assert.deepEqual(await names(phone), [`${carol.name}=Caz`]);
    await assert.rejects(phone.contacts.remove(bob.client.userId as UserId), isClientError('not_found'));

    // Nicknames: limits and characters that could reorder or hide text.
    const carolId = carol.client.userId as UserId;
    await assert.rejects(alice.client.contacts.setNickname(carolId, 'x'.repeat(MAX_NICKNAME_LENGTH + 1)), isClientError('bad_request'));
    await assert.rejects(alice.client.contacts.setNickname(carolId, 'evil\u202Egnp.exe'), isClientError('bad_request'));
    await assert.rejects(alice.client.contacts.setNickname(carolId, 'bell\u0007'), isClientError('bad_request'));
    assert.equal((await alice.client.contacts.setNickname(carolId, '   ')).nickname, null, 'blank clears it');
    await assert.rejects(alice.client.contacts.add(alice.name), isClientError('bad_request'));
    await assert.rejects(alice.client.contacts.add('nobody-here-at-all'), isClientError('unknown_user'));

    // A device linked now gets the whole list (tombstones too) from the device that adds it to the self group.
    const laptop = await net.device(alice);
    await waitFor(async () => (await names(laptop)).length === 1, 'the new device has the contacts');
    assert.deepEqual(await names(laptop), [carol.name]);
    assert.deepEqual(
      net.errors.map((e) => e.event.code),
      [],
    );
  });

  it('a change made offline reaches the other device after the next sync (a snapshot), and the call does not wait for the network', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory });
    const phone = await net.device(alice);
    const bob = await net.user();
    await alice.client.contacts.add(bob.name);
    await waitFor(async () => (await phone.contacts.list()).length === 1, 'synced while online');
    let state = '';
    alice.client.on('connection', (e) => {
      state = e.state;
    });
    sockets.setOffline(true);
    await waitFor(() => state === 'offline' || state === 'connecting', 'offline');
    const started = Date.now();
    await alice.client.contacts.setNickname(bob.client.userId as UserId, 'offline name');
    assert.ok(Date.now() - started < 5_000, 'the call does not wait for the connection');
    assert.equal((await alice.client.contacts.get(bob.client.userId as UserId))?.nickname, 'offline name');
    sockets.setOffline(false);
    await waitFor(async () => (await phone.contacts.get(bob.client.userId as UserId))?.nickname === 'offline name', 'the phone gets it after the reconnect');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('adds by contact code, and refuses a code whose id is not the directory\u2019s for that name', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    const code = bob.client.contacts.myCode();
    assert.equal(code, `parley:contact/${bob.name}#${bob.client.userId}`);
    const c = await alice.client.contacts.add(code);
    assert.equal(c.userId, bob.client.userId);
    assert.equal(c.username, bob.name);

    // bob's name with carol's id: a forged or stale code.
    const forged = `parley:contact/${bob.name}#${carol.client.userId}`;
    await assert.rejects(alice.client.contacts.add(forged), isClientError('contact_mismatch'));
    await alice.client.contacts.remove(bob.client.userId as UserId);
    await assert.rejects(alice.client.contacts.add(forged), isClientError('contact_mismatch'));
    assert.equal(await alice.client.contacts.get(bob.client.userId as UserId), null, 'nothing added');
    await assert.rejects(alice.client.contacts.add('parley:contact/#nope'), isClientError('bad_request'));
    await assert.rejects(alice.client.contacts.add(`parley:contact/${bob.name}#short`), isClientError('bad_request'));
  });

  it('starting a 1:1 chat adds the other user as a contact (a group does not)', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    await alice.client.createConversation([bob.name, carol.name], { title: 'group' });
    assert.deepEqual(await names(alice.client), []);
    await alice.client.createConversation([bob.name]);
    assert.deepEqual(await names(alice.client), [bob.name]);
  });

  it('ignores self-group people messages that do not validate, with a typed error, and changes nothing', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const phone = await net.device(alice);
    const bob = await net.user();
    await alice.client.contacts.add(bob.name);
    await waitFor(async () => (await phone.contacts.list()).length === 1, 'synced');
    const self = selfGroupId(alice.client.userId as UserId);
    const bad = [
      // A nickname with a bidi override.
      { type: 'x-parley-self', v: 1, kind: 'contact', userId: bob.client.userId, username: bob.name, nickname: '\u202Eevil', addedAt: 1, updatedAt: Date.now() + 60_000, removed: false },
      // Not a user id.
      { type: 'x-parley-self', v: 1, kind: 'block', userId: 'not-an-id', username: null, blockedAt: 1, updatedAt: 1, blocked: true },
      // An unknown request state.
      { type: 'x-parley-self', v: 1, kind: 'request', conversationId: self, state: 'maybe', inviter: null, updatedAt: 1 },
      // A snapshot over its limit.
      { type: 'x-parley-self', v: 1, kind: 'people', contacts: [], blocks: [], requests: Array.from({ length: 501 }, () => ({ conversationId: self, state: 'accepted', inviter: null, updatedAt: 1 })) },
    ];
    for (const m of bad) await alice.client.testing.sendPlaintext(self, new TextEncoder().encode(JSON.stringify(m)));
    await waitFor(() => net.errorsOf(phone).filter((e) => e.code === 'account_key').length === bad.length, 'each refused with a typed error');
    for (const e of net.errorsOf(phone)) assert.ok(e.error instanceof ClientError && e.error.code === 'account_key' && /malformed/.test(e.error.message));
    assert.deepEqual((await phone.contacts.list()).map((c) => c.nickname), [null]);
    assert.deepEqual(await phone.blocks.list(), []);
  });
});
