import assert from 'node:assert/strict';
import { importDeviceIdentity, signWithDevice } from '@parley/crypto';
import { accountDeletionMessage, toBase64Url } from '@parley/protocol';
import { ClientRepository } from '../src/store/records.js';
import { describe, it } from 'node:test';
import { ClientError, MemoryStore, STORE_TABLES } from '../src/index.js';
import type { ParleyClient, Store } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

const isClientError = (code: string) => (err: unknown) => err instanceof ClientError && err.code === code;

async function isEmpty(store: Store): Promise<boolean> {
  for (const t of STORE_TABLES) if ((await store.list(t)).length > 0) return false;
  return true;
}

async function memberIds(client: ParleyClient, id: string): Promise<string[]> {
  return (await client.conversation(id as Parameters<ParleyClient['conversation']>[0])).members.map((m) => m.userId);
}

describe('client: account deletion', () => {
  it('a wrong password changes nothing; deleting leaves every conversation, contacts see the user’s devices removed, the store is wiped, the name is held', async () => {
    await using net = await ClientNetwork.start();
    const store = new MemoryStore();
    const alice = await net.user(undefined, { store });
    const bob = await net.user();
    const carol = await net.user();
    const direct = await alice.client.createConversation([bob.name]);
    const group = await carol.client.createConversation([alice.name, bob.name], { title: 'trio' });
    await waitFor(async () => (await bob.client.conversations()).length === 2, 'bob joins both');
    await waitFor(async () => (await alice.client.conversations()).length === 2, 'alice joins both');
    const aliceId = alice.client.userId as string;

    await assert.rejects(alice.client.deleteAccount('wrong password'), isClientError('invalid_credentials'));
    await alice.client.send(direct.id, 'still here');
    await waitFor(async () => (await texts(bob.client, direct.id)).includes('still here'), 'nothing changed');
    assert.ok((await memberIds(bob.client, group.id)).includes(aliceId));

    await alice.client.deleteAccount(alice.password);
    assert.equal(await isEmpty(store), true, 'the deleting device keeps nothing');

    for (const [c, convs] of [
      [bob.client, [direct.id, group.id]],
      [carol.client, [group.id]],
    ] as const) {
      for (const id of convs) {
        await waitFor(async () => !(await memberIds(c, id)).includes(aliceId), 'alice is gone from the conversation');
      }
    }
    // The others carry on.
    await carol.client.send(group.id, 'without alice');
    await waitFor(async () => (await texts(bob.client, group.id)).includes('without alice'), 'the group still works');

    // The name is held back.
    const again = await net.client();
    await assert.rejects(again.register(alice.name, 'another long password'), isClientError('username_taken'));
  });

  it('a device deleted without leaving (it never got to): contacts remove its devices on the server’s word', async () => {
    await using net = await ClientNetwork.start();
    const store = new MemoryStore();
    const alice = await net.user(undefined, { store });
    const bob = await net.user();
    const carol = await net.user();
    const group = await bob.client.createConversation([alice.name, carol.name], { title: 'trio' });
    await waitFor(async () => (await alice.client.conversations()).length === 1, 'alice joins');
    const aliceId = alice.client.userId as string;
    await alice.client.close();
    // The deletion request alone, as a client that cannot leave first would send it.
    const account = await new ClientRepository(store).account();
    assert.ok(account);
    const ch = await fetch(`${net.url}/v1/sessions/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: account.username, deviceId: account.deviceId }) });
    const { challenge } = (await ch.json()) as { challenge: string };
    const signature = await signWithDevice(await importDeviceIdentity(account.identity), accountDeletionMessage(account.userId, account.deviceId, challenge));
    const res = await fetch(`${net.url}/v1/account/deletion`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
      body: JSON.stringify({ password: alice.password, challenge, signature: toBase64Url(signature) }),
    });
    assert.equal(res.status, 204);
    for (const c of [bob.client, carol.client]) await waitFor(async () => !(await memberIds(c, group.id)).includes(aliceId), 'alice’s devices removed by a contact');
    await carol.client.send(group.id, 'after alice');
    await waitFor(async () => (await texts(bob.client, group.id)).includes('after alice'), 'the group still works');
  });
});
