import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signWithDevice } from '@parley/crypto';
import { rejoinRequestMessage, toBase64Url } from '@parley/protocol';
import type { GroupId, RejoinServerFrame } from '@parley/protocol';
import type { ClientCore } from '../src/core/context.js';
import type { Features } from '../src/features.js';
import { encodeRejoinRequest } from '../src/healing/healing.js';
import { ClientError } from '../src/errors.js';
import { MemoryStore } from '../src/index.js';
import type { ParleyClient } from '../src/index.js';
import { ClientNetwork, notices, texts, waitFor } from './helpers/network.js';

/** The client's internals, for what only a broken store or a hostile server could do. */
const inside = (c: ParleyClient) => c as unknown as { core: ClientCore; f: Features };

/** A request signed by `signer`'s device key, naming `claimed` (as a server could relay it). */
async function request(signer: ParleyClient, group: GroupId, claimed: ParleyClient, at = Date.now()): Promise<{ frame: RejoinServerFrame; payload: Uint8Array }> {
  const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  const { identity } = inside(signer).core.session();
  const { account } = inside(claimed).core.session();
  const frame: RejoinServerFrame = { t: 'rejoin', group, user: account.userId, device: account.deviceId };
  const sig = await signWithDevice(identity, rejoinRequestMessage(group, frame.user, frame.device, at, nonce));
  return { frame, payload: encodeRejoinRequest({ at, nonce, sig }) };
}

function refusals(net: ClientNetwork, client: ParleyClient): string[] {
  return net
    .errorsOf(client)
    .filter((e) => e.code === 'rejoin_refused')
    .map((e) => String(e.error instanceof ClientError ? e.error.detail?.['reason'] : ''));
}

describe('client: groups that heal', () => {
  it('a device whose stored group state is garbage asks to be re-added, is healed by a member, and reads new messages after a notice', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const store = new MemoryStore();
    const bob = await net.user(undefined, { store });
    const carol = await net.user();
    const conv = await alice.client.createConversation([bob.name, carol.name], { title: 'heal' });
    for (const u of [bob, carol]) await waitFor(async () => (await u.client.conversations()).some((c) => c.id === conv.id && c.title === 'heal'), 'join');
    await alice.client.send(conv.id, 'before');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('before'), 'bob reads before');

    // Bob's device stops; its stored MLS state for the group is destroyed.
    await bob.client.close();
    await store.write([{ type: 'put', table: 'groups', key: conv.id, value: 'garbage' }]);
    const bob2 = await net.client({ store });
    await bob2.whenSynced();

    await alice.client.send(conv.id, 'in the gap');
    await waitFor(async () => (await bob2.conversation(conv.id))?.status === 'rejoining' || (await notices(bob2, conv.id)).length > 0, 'bob notices the break');
    // A member re-adds it (remove its old leaf + add a fresh key package, one commit); the Welcome is taken.
    await waitFor(async () => (await bob2.conversation(conv.id))?.status === 'active' && (await notices(bob2, conv.id)).some((n) => n.kind === 'messages_undecryptable'), 'bob re-added', 20_000);
    await carol.client.send(conv.id, 'after');
    await waitFor(async () => (await texts(bob2, conv.id)).includes('after'), 'bob reads after');
    await bob2.send(conv.id, 'bob is back');
    for (const u of [alice, carol]) await waitFor(async () => (await texts(u.client, conv.id)).includes('bob is back'), 'members read bob');

    // Nothing from the gap reached bob; the notice stands where it was.
    assert.deepEqual(await texts(bob2, conv.id), ['before', 'after', 'bob is back']);
    assert.deepEqual((await notices(bob2, conv.id)).map((n) => n.kind), ['messages_undecryptable']);
    assert.deepEqual(refusals(net, alice.client), []);
    assert.deepEqual(refusals(net, carol.client), []);
  });

  it('a device restored from an old backup (its group state behind a commit) is healed the same way', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const store = new MemoryStore();
    const bob = await net.user(undefined, { store });
    const carol = await net.user();
    const conv = await alice.client.createConversation([bob.name], { title: 'backup' });
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === conv.id && c.title === 'backup'), 'join');
    const old = await store.get('groups', conv.id);
    assert.ok(old);
    await alice.client.addMembers(conv.id, [carol.name]);
    await waitFor(async () => (await bob.client.conversation(conv.id))?.members.length === 3, 'bob sees carol join');
    await bob.client.close();
    await store.write([{ type: 'put', table: 'groups', key: conv.id, value: old }]);
    const bob2 = await net.client({ store });
    await bob2.whenSynced();

    await alice.client.send(conv.id, 'from a later epoch');
    await waitFor(async () => (await bob2.conversation(conv.id))?.status === 'active' && (await notices(bob2, conv.id)).some((n) => n.kind === 'messages_undecryptable'), 'bob re-added', 20_000);
    await carol.client.send(conv.id, 'after');
    await waitFor(async () => (await texts(bob2, conv.id)).includes('after'), 'bob reads after');
    assert.ok(!(await texts(bob2, conv.id)).includes('from a later epoch'));
  });

  it('members ignore forged requests with a typed error: bad signature, a device not in the group, another user\'s device', async () => {
    await using net = await ClientNetwork.start();
    const [alice, bob, mallory] = [await net.user(), await net.user(), await net.user()];
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === conv.id), 'join');
    const healing = inside(alice.client).f.healing;
    let commits = 0;
    alice.client.on('membership', () => commits++);
    bob.client.on('membership', () => commits++);

    // Signed by mallory, claiming to be bob's device (a server forging the header).
    const forged = await request(mallory.client, conv.id, bob.client);
    await healing.answer(forged.frame, forged.payload);
    // Mallory's own, correctly signed request: her device is not in the group.
    const stranger = await request(mallory.client, conv.id, mallory.client);
    await healing.answer(stranger.frame, stranger.payload);
    // Bob's real signature, but stale; then the same nonce again.
    const stale = await request(bob.client, conv.id, bob.client, Date.now() - 10 * 60_000);
    await healing.answer(stale.frame, stale.payload);
    // Garbage, and a bad signature sent through the real server path by a member.
    const garbage = await request(bob.client, conv.id, bob.client);
    await healing.answer(garbage.frame, new TextEncoder().encode('{"at":1}'));
    const real = await request(bob.client, conv.id, bob.client);
    const tampered = JSON.parse(new TextDecoder().decode(real.payload)) as { sig: string };
    const payload = new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(real.payload)), sig: tampered.sig.slice(0, -4) + 'AAAA' }));
    inside(bob.client).core.session().connection.sendEphemeral({ t: 'rejoin', group: conv.id }, [payload]);
    await waitFor(() => refusals(net, alice.client).length >= 5, 'five refusals');

    assert.deepEqual(refusals(net, alice.client), ['bad_signature', 'not_member', 'stale', 'malformed', 'bad_signature']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(commits, 0, 'no commit was made');
    assert.equal((await bob.client.conversation(conv.id))?.status, 'active');
  });
});
