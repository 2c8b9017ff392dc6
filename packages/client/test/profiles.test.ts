import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeContent, encryptProfile, generateProfileKey, newContentId, PROFILE_CIPHERTEXT_BYTES, profileVersion } from '@parley/crypto';
import { fromBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { ClientError, MAX_ABOUT_LENGTH, MAX_DISPLAY_NAME_LENGTH, MAX_PICTURE_BYTES, MemoryStore } from '../src/index.js';
import type { ParleyClient, Profile } from '../src/index.js';
import { HttpApi } from '../src/transport/http-api.js';
import { ClientNetwork, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

type User = Awaited<ReturnType<ClientNetwork['user']>>;

function idOf(client: ParleyClient): UserId {
  return client.userId as UserId;
}

/** A user with their own store (so the test can read what the device keeps). */
async function user(net: ClientNetwork, options: { sockets?: RecordingSockets } = {}): Promise<User & { store: MemoryStore }> {
  const store = new MemoryStore();
  const u = await net.user(undefined, { store, ...(options.sockets === undefined ? {} : { webSocket: options.sockets.factory }) });
  return { ...u, store };
}

/** This user's profile key as the device keeps it (profile/own-key). */
async function ownKey(store: MemoryStore): Promise<Uint8Array> {
  const text = await store.get('meta', 'profile/own-key');
  assert.ok(text !== undefined, 'the device holds a profile key');
  const key = fromBase64Url((JSON.parse(text) as { key: string }).key);
  assert.ok(key !== undefined);
  return key;
}

/** The HTTP API as the user's device (its session token from the store). */
async function apiOf(net: ClientNetwork, store: MemoryStore): Promise<HttpApi> {
  const text = await store.get('meta', 'account');
  assert.ok(text !== undefined);
  const api = new HttpApi(net.url);
  api.token = (JSON.parse(text) as { token: string }).token;
  return api;
}

/** A message request (from someone who is not a contact) is accepted, so the key may go out. */
async function acceptIfRequest(client: ParleyClient, id: GroupId): Promise<void> {
  if ((await client.requests.list()).some((c) => c.id === id)) await client.requests.accept(id);
}

/** A conversation between the users, joined (and accepted) by every one of them. */
async function converse(creator: User, others: User[]): Promise<GroupId> {
  const conv = await creator.client.createConversation(others.map((o) => o.name));
  for (const o of others) {
    await waitFor(async () => (await o.client.conversations()).some((c) => c.id === conv.id), 'joined');
    await acceptIfRequest(o.client, conv.id);
  }
  return conv.id;
}

async function nameOf(client: ParleyClient, of: ParleyClient): Promise<string | null | undefined> {
  return (await client.profiles.get(idOf(of)))?.displayName;
}

const PICTURE = new Uint8Array(randomBytes(3000));

describe('client: profiles', () => {
  it('two users in a conversation see each other’s name, about and picture; a change reaches the other with no message', async () => {
    await using net = await ClientNetwork.start();
    const aliceSockets = new RecordingSockets();
    const alice = await user(net, { sockets: aliceSockets });
    const bob = await user(net);
    assert.deepEqual(await alice.client.profiles.mine(), { userId: idOf(alice.client), displayName: null, about: null, hasPicture: false, updatedAt: 0 });
    const set = await alice.client.profiles.set({ displayName: '  Alice   Liddell ', about: 'down the rabbit hole', picture: { bytes: PICTURE, mimeType: 'image/png' } });
    assert.equal(set.displayName, 'Alice Liddell', 'trimmed, white space collapsed');
    assert.equal(set.hasPicture, true);
    await bob.client.profiles.set({ displayName: 'Bob' });
    // Nobody has the other's key yet.
    assert.equal(await bob.client.profiles.get(idOf(alice.client)), null);

    const events: Profile[] = [];
    bob.client.on('profile', (p) => events.push(p));
    const id = await converse(alice, [bob]);
    await waitFor(async () => (await nameOf(bob.client, alice.client)) === 'Alice Liddell', 'bob sees alice’s name');
    await waitFor(async () => (await nameOf(alice.client, bob.client)) === 'Bob', 'alice sees bob’s name');
    const seen = await bob.client.profiles.get(idOf(alice.client));
    assert.equal(seen?.about, 'down the rabbit hole');
    assert.equal(seen?.hasPicture, true);
    assert.deepEqual(await bob.client.profiles.picture(idOf(alice.client)), PICTURE);
    assert.ok(events.some((e) => e.userId === idOf(alice.client) && e.displayName === 'Alice Liddell'), "a 'profile' event");
    // The key is no history entry.
    assert.deepEqual(await bob.client.messages(id), []);

    // A change: one upload, no message to anyone.
    await waitFor(() => aliceSockets.sent.some((f) => f.t === 'send'), 'alice shared her key');
    const sendsBefore = aliceSockets.sent.filter((f) => f.t === 'send' || f.t === 'commit').length;
    const framesBefore = aliceSockets.received.filter((f) => f.t === 'msg').length;
    await alice.client.profiles.set({ displayName: 'Alice L.', picture: null });
    await bob.client.profiles.refresh(idOf(alice.client));
    const changed = await bob.client.profiles.get(idOf(alice.client));
    assert.equal(changed?.displayName, 'Alice L.');
    assert.equal(changed?.about, 'down the rabbit hole', 'fields not given are kept');
    assert.equal(changed?.hasPicture, false);
    assert.equal(await bob.client.profiles.picture(idOf(alice.client)), null);
    assert.equal(aliceSockets.sent.filter((f) => f.t === 'send' || f.t === 'commit').length, sendsBefore, 'alice sent no MLS message for the change');
    assert.equal(aliceSockets.received.filter((f) => f.t === 'msg').length, framesBefore, 'and none went through the conversation');

    // A new member gets the keys of the members (members changed).
    const carol = await user(net);
    await carol.client.profiles.set({ displayName: 'Carol' });
    await alice.client.addMembers(id, [carol.name]);
    await waitFor(async () => (await carol.client.conversations()).some((c) => c.id === id), 'carol joined');
    await acceptIfRequest(carol.client, id);
    await waitFor(async () => (await nameOf(carol.client, alice.client)) === 'Alice L.', 'carol sees alice');
    await waitFor(async () => (await nameOf(carol.client, bob.client)) === 'Bob', 'carol sees bob');
    await waitFor(async () => (await nameOf(bob.client, carol.client)) === 'Carol', 'bob sees carol');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a user who shares no conversation has no key and reads nothing; after rotateKey the old version is gone', async () => {
    await using net = await ClientNetwork.start();
    const alice = await user(net);
    const bob = await user(net);
    const eve = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice', about: 'private' });
    await converse(alice, [bob]);
    await waitFor(async () => (await nameOf(bob.client, alice.client)) === 'Alice', 'bob sees alice');

    // Eve: no key, nothing; and a version she makes up is not alice's.
    await eve.client.profiles.refresh(idOf(alice.client));
    assert.equal(await eve.client.profiles.get(idOf(alice.client)), null);
    const eveApi = await apiOf(net, eve.store);
    assert.equal(await eveApi.getProfile(await profileVersion(generateProfileKey(), idOf(alice.client))), null);

    // Rotation: the old version 404s at once, bob (still in a conversation with alice) gets the new key.
    const oldKey = await ownKey(alice.store);
    const oldVersion = await profileVersion(oldKey, idOf(alice.client));
    assert.notEqual(await eveApi.getProfile(oldVersion), null, 'stored under the old version before');
    await alice.client.profiles.rotateKey();
    assert.equal(await eveApi.getProfile(oldVersion), null, 'the old version is gone');
    const newKey = await ownKey(alice.store);
    assert.notDeepEqual(newKey, oldKey);
    await waitFor(async () => {
      const keys = await bob.store.get('meta', `profile/key/${idOf(alice.client)}`);
      return keys !== undefined && (JSON.parse(keys) as { keys: Array<{ key: string }> }).keys.some((k) => k.key === Buffer.from(newKey).toString('base64url'));
    }, 'bob got the new key');
    await alice.client.profiles.set({ about: 'after rotation' });
    await bob.client.profiles.refresh(idOf(alice.client));
    assert.equal((await bob.client.profiles.get(idOf(alice.client)))?.about, 'after rotation');
    // Someone who kept only the old key reads nothing more.
    const oldHolder = await eveApi.getProfile(oldVersion);
    assert.equal(oldHolder, null);

    // The old version is free now: eve, who learned the old key, plants a profile for alice under it with her own account.
    const forged = await encryptProfile(oldKey, idOf(alice.client), { displayName: 'Alice (forged)', about: null, picture: null, updatedAt: Date.now() });
    assert.equal(forged.version, oldVersion);
    await eveApi.putProfile({ version: forged.version, ciphertext: forged.ciphertext, pictureBlob: null });
    // A reader holding only the old key sees that the server names eve as its owner: refused, the username is shown.
    const keyRecord = `profile/key/${idOf(alice.client)}`;
    const held = JSON.parse((await bob.store.get('meta', keyRecord)) ?? '{}') as { keys: Array<{ key: string }> };
    held.keys = held.keys.filter((k) => k.key === Buffer.from(oldKey).toString('base64url'));
    assert.equal(held.keys.length, 1, 'bob still holds the old key');
    await bob.store.write([{ type: 'put', table: 'meta', key: keyRecord, value: JSON.stringify(held) }]);
    const errorsBefore = net.errorsOf(bob.client).filter((e) => e.code === 'profile_invalid').length;
    await bob.client.profiles.refresh(idOf(alice.client));
    assert.equal(await bob.client.profiles.get(idOf(alice.client)), null, 'the forged profile is not shown as alice’s');
    assert.equal(net.errorsOf(bob.client).filter((e) => e.code === 'profile_invalid').length, errorsBefore + 1);
  });

  it('a garbled or forged ciphertext is a profile_invalid event and reads as null', async () => {
    await using net = await ClientNetwork.start();
    const alice = await user(net);
    const bob = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice' });
    await converse(alice, [bob]);
    await waitFor(async () => (await nameOf(bob.client, alice.client)) === 'Alice', 'bob sees alice');
    // The server (or alice's account) puts garbage under alice's current version.
    const version = await profileVersion(await ownKey(alice.store), idOf(alice.client));
    await (await apiOf(net, alice.store)).putProfile({ version, ciphertext: new Uint8Array(randomBytes(PROFILE_CIPHERTEXT_BYTES)), pictureBlob: null });
    await bob.client.profiles.refresh(idOf(alice.client));
    assert.equal(await bob.client.profiles.get(idOf(alice.client)), null, 'the username is shown instead');
    const invalid = net.errorsOf(bob.client).filter((e) => e.code === 'profile_invalid');
    assert.equal(invalid.length, 1);
    assert.ok(!(invalid[0]?.error.message ?? '').includes('Alice'), 'the error names no content');
    // Setting it again repairs it.
    await alice.client.profiles.set({ displayName: 'Alice again' });
    await bob.client.profiles.refresh(idOf(alice.client));
    assert.equal(await nameOf(bob.client, alice.client), 'Alice again');
  });

  it('refuses an oversized picture or name before anything is uploaded, and unsafe text', async () => {
    await using net = await ClientNetwork.start();
    const alice = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice' });
    const uploads: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (init?.method === 'PUT') uploads.push(url);
      return realFetch(input, init);
    };
    try {
      const tooLarge = (err: unknown) => err instanceof ClientError && err.code === 'too_large';
      await assert.rejects(alice.client.profiles.set({ picture: { bytes: new Uint8Array(MAX_PICTURE_BYTES + 1), mimeType: 'image/jpeg' } }), tooLarge);
      await assert.rejects(alice.client.profiles.set({ displayName: 'x'.repeat(MAX_DISPLAY_NAME_LENGTH + 1) }), tooLarge);
      await assert.rejects(alice.client.profiles.set({ about: 'x'.repeat(MAX_ABOUT_LENGTH + 1) }), tooLarge);
      const badRequest = (err: unknown) => err instanceof ClientError && err.code === 'bad_request';
      await assert.rejects(alice.client.profiles.set({ displayName: 'gnirts\u202eevil' }), badRequest);
      await assert.rejects(alice.client.profiles.set({ displayName: 'bell\u0007' }), badRequest);
      await assert.rejects(alice.client.profiles.set({ picture: { bytes: new Uint8Array(10), mimeType: 'image/gif' as 'image/png' } }), badRequest);
      assert.deepEqual(uploads, [], 'nothing was uploaded');
    } finally {
      globalThis.fetch = realFetch;
    }
    assert.equal((await alice.client.profiles.mine()).displayName, 'Alice', 'unchanged');
    // Exactly at the limits is fine; 64 emoji are 64 characters.
    const atLimit = await alice.client.profiles.set({ displayName: '😀'.repeat(MAX_DISPLAY_NAME_LENGTH), picture: { bytes: new Uint8Array(MAX_PICTURE_BYTES).fill(1), mimeType: 'image/jpeg' } });
    assert.equal(atLimit.hasPicture, true);
    // An empty name removes it.
    assert.equal((await alice.client.profiles.set({ displayName: '   ' })).displayName, null);
  });

  it('this user’s profile reaches a newly linked device, and a change there reaches the first', async () => {
    await using net = await ClientNetwork.start();
    const alice = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice', about: 'laptop first' });
    const phone = await net.device(alice);
    await waitFor(async () => (await phone.profiles.mine()).displayName === 'Alice', 'the phone reads the profile');
    assert.equal((await phone.profiles.mine()).about, 'laptop first');
    await phone.profiles.set({ about: 'now from the phone' });
    await alice.client.profiles.refresh();
    const mine = await alice.client.profiles.mine();
    assert.equal(mine.about, 'now from the phone');
    assert.equal(mine.displayName, 'Alice');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a profile_key message binds the key to its sender: user A cannot set user B’s profile', async () => {
    await using net = await ClientNetwork.start();
    const alice = await user(net);
    const bob = await user(net);
    const carol = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice' });
    await bob.client.profiles.set({ displayName: 'Bob' });
    const withCarol = await converse(alice, [carol]);
    await waitFor(async () => (await nameOf(carol.client, alice.client)) === 'Alice', 'carol sees alice');

    // Alice (who could know bob's key from a conversation with him) sends it to carol as a profile_key.
    const bobKey = await ownKey(bob.store);
    await alice.client.testing.sendPlaintext(withCarol, encodeContent({ type: 'profile_key', v: 1, id: newContentId(), sentAt: Date.now(), key: bobKey }));
    await waitFor(async () => {
      const keys = await carol.store.get('meta', `profile/key/${idOf(alice.client)}`);
      return keys !== undefined && (JSON.parse(keys) as { keys: unknown[] }).keys.length === 2;
    }, 'carol filed the key under alice');
    await carol.client.profiles.refresh();
    assert.equal(await carol.client.profiles.get(idOf(bob.client)), null, 'nothing about bob');
    assert.equal(await carol.store.get('meta', `profile/key/${idOf(bob.client)}`), undefined);
    assert.equal(await nameOf(carol.client, alice.client), 'Alice', 'alice is still alice (bob’s key names no profile of hers)');
  });

  it('a message request learns no profile until accepted; after a block the blocked user gets no new key', async () => {
    await using net = await ClientNetwork.start();
    const aliceSockets = new RecordingSockets();
    const alice = await user(net, { sockets: aliceSockets });
    const bob = await user(net);
    const mallory = await user(net);
    await alice.client.profiles.set({ displayName: 'Alice' });
    await mallory.client.profiles.set({ displayName: 'Mallory' });

    // A stranger starts a chat: a pending request on alice's side. Her key does not go there.
    const request = await mallory.client.createConversation([alice.name]);
    await waitFor(async () => (await alice.client.requests.list()).some((c) => c.id === request.id), 'a request');
    await waitFor(async () => (await nameOf(alice.client, mallory.client)) === 'Mallory', 'the requester’s name may be shown');
    const sendsBefore = aliceSockets.sent.filter((f) => f.t === 'send').length;
    await alice.client.profiles.shareWith(request.id);
    await alice.client.profiles.refresh();
    assert.equal(aliceSockets.sent.filter((f) => f.t === 'send').length, sendsBefore, 'nothing sent into a pending request');
    assert.equal(await mallory.store.get('meta', `profile/key/${idOf(alice.client)}`), undefined);
    // Accepting shares it.
    await alice.client.requests.accept(request.id);
    await waitFor(async () => (await nameOf(mallory.client, alice.client)) === 'Alice', 'mallory sees alice once accepted');

    // A group with bob and mallory, and a 1:1 with bob; then alice blocks mallory: the key is rotated, bob gets it
    // (in the 1:1), mallory does not (the group has a blocked user in it: no key goes there).
    const group = await converse(alice, [bob, mallory]);
    await converse(alice, [bob]);
    await waitFor(async () => (await nameOf(bob.client, alice.client)) === 'Alice', 'bob sees alice');
    const oldVersion = await profileVersion(await ownKey(alice.store), idOf(alice.client));
    await alice.client.blocks.block(mallory.name);
    const newKey = Buffer.from(await ownKey(alice.store)).toString('base64url');
    assert.equal(await (await apiOf(net, mallory.store)).getProfile(oldVersion), null, 'the version mallory knows is gone');
    const holds = async (u: { store: MemoryStore }) => {
      const keys = await u.store.get('meta', `profile/key/${idOf(alice.client)}`);
      return keys !== undefined && (JSON.parse(keys) as { keys: Array<{ key: string }> }).keys.some((k) => k.key === newKey);
    };
    await waitFor(() => holds(bob), 'bob got the new key');
    // Everything alice sent into the group before this text reached mallory before it.
    await alice.client.profiles.idle();
    const marker = await alice.client.send(group, 'after the block');
    await waitFor(async () => (await mallory.client.messages(group)).some((m) => m.seq === marker.seq), 'mallory got the marker');
    assert.equal(await holds(mallory), false, 'mallory never got the new key');
    await mallory.client.profiles.refresh(idOf(alice.client));
    assert.equal(await mallory.client.profiles.get(idOf(alice.client)), null, 'and reads nothing of alice any more');
  });
});
