import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupId, UserId } from '@parley/protocol';
import type { Message, ParleyClient, TypingEvent } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { isClientError } from './helpers/errors.js';

const FAST = { receiptDelayMs: 30 };

async function ids(list: Promise<Array<{ id: GroupId }>>): Promise<GroupId[]> {
  return (await list).map((c) => c.id);
}

async function statusOf(client: ParleyClient, conversationId: GroupId, seq: number): Promise<Message['status'] | undefined> {
  return (await client.messages(conversationId)).find((m) => m.seq === seq)?.status;
}

describe('client: message requests', () => {
  it("a stranger's chat is a request: kept out of the list, no receipt or typing goes back; accepting moves it and adds the contact", async () => {
    await using net = await ClientNetwork.start();
    const stranger = await net.user(undefined, FAST);
    const bob = await net.user(undefined, FAST);
    const bobPhone = await net.device(bob, FAST);
    const conv = await stranger.client.createConversation([bob.name]);
    const hello = await stranger.client.send(conv.id, 'hi, remember me?');
    for (const d of [bob.client, bobPhone]) await waitFor(async () => (await texts(d, conv.id)).includes('hi, remember me?'), 'the request arrives');

    const seen = await bob.client.conversation(conv.id);
    assert.equal(seen.request, true);
    assert.equal(seen.invitedBy, stranger.client.userId);
    assert.deepEqual(await ids(bob.client.conversationSummaries()), [], 'not in the main list');
    assert.deepEqual(await ids(bob.client.requests.list()), [conv.id]);
    assert.deepEqual(await ids(bobPhone.requests.list()), [conv.id], 'a request on every device of bob');
    const preview = (await bob.client.requests.list())[0];
    assert.equal(preview?.lastMessage?.content.type === 'text' && preview.lastMessage.content.text, 'hi, remember me?');

    // Receiving, reading and typing while pending tell the stranger nothing (not even "delivered").
    const strangerTyping: TypingEvent[] = [];
    stranger.client.on('typing', (e) => strangerTyping.push(e));
    await bob.client.markRead(conv.id, hello.seq);
    await bob.client.setTyping(conv.id, true);
    // A marker: a message bob's contact-to-be receives after everything above was sent (the server keeps order).
    const probe = await stranger.client.send(conv.id, 'probe');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('probe'), 'probe arrives');
    await bob.client.setTyping(conv.id, false);
    await new Promise((r) => setTimeout(r, 10 * FAST.receiptDelayMs)); // past the receipt delay: a receipt would have left by now
    assert.equal(await statusOf(stranger.client, conv.id, hello.seq), 'sent', 'neither delivered nor read');
    assert.deepEqual((await stranger.client.receipts(conv.id, hello.seq)).readBy, []);
    assert.deepEqual(strangerTyping, []);

    // Accept (on the phone): the list on both devices, the stranger becomes a contact, the read receipt goes.
    const accepted = await bobPhone.requests.accept(conv.id);
    assert.equal(accepted.request, false);
    await waitFor(async () => (await ids(bob.client.conversationSummaries())).includes(conv.id), 'accepted on the other device too');
    assert.deepEqual(await ids(bob.client.requests.list()), []);
    assert.deepEqual(await ids(bobPhone.conversationSummaries()), [conv.id]);
    await waitFor(async () => (await bob.client.contacts.get(stranger.client.userId as UserId)) !== null, 'the inviter is a contact on both devices');
    assert.equal((await bobPhone.contacts.get(stranger.client.userId as UserId))?.username, stranger.name);
    // The receipt held back on bob's laptop goes once the acceptance reaches it: what he read is "read".
    await waitFor(async () => (await statusOf(stranger.client, conv.id, hello.seq)) === 'read', 'the held receipt goes once accepted');
    assert.equal(await statusOf(stranger.client, conv.id, probe.seq), 'delivered');
    await bob.client.markRead(conv.id, probe.seq);
    await waitFor(async () => (await statusOf(stranger.client, conv.id, probe.seq)) === 'read', 'read receipts flow once accepted');
    await assert.rejects(bob.client.requests.accept(conv.id), isClientError('not_found'));
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it("a contact's chat is not a request; a reply accepts a request; delete leaves it on every device", async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const bobPhone = await net.device(bob);
    await bob.client.contacts.add(alice.name);
    await waitFor(async () => (await bobPhone.contacts.list()).length === 1, 'contact synced');
    const fromContact = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await ids(bob.client.conversationSummaries())).includes(fromContact.id), 'in the main list');
    assert.equal((await bob.client.conversation(fromContact.id)).request, false);
    await waitFor(async () => (await ids(bobPhone.conversationSummaries())).includes(fromContact.id), 'on the phone too');

    // Replying to a request accepts it.
    const stranger = await net.user();
    const chat = await stranger.client.createConversation([bob.name]);
    await waitFor(async () => (await ids(bob.client.requests.list())).includes(chat.id), 'a request');
    await bob.client.send(chat.id, 'who is this?');
    assert.equal((await bob.client.conversation(chat.id)).request, false);
    assert.ok(await bob.client.contacts.get(stranger.client.userId as UserId));

    // Adding the inviter as a contact (on the phone) accepts their pending request, on both devices.
    const friend = await net.user();
    const fromFriend = await friend.client.createConversation([bob.name]);
    for (const d of [bob.client, bobPhone]) await waitFor(async () => (await ids(d.requests.list())).includes(fromFriend.id), 'a request on both devices');
    await bobPhone.contacts.add(friend.name);
    for (const d of [bob.client, bobPhone]) await waitFor(async () => (await ids(d.conversationSummaries())).includes(fromFriend.id), 'accepted on both devices');
    assert.equal((await bob.client.conversation(fromFriend.id)).request, false);

    // Delete: gone from both of bob's devices, and bob's devices leave the group.
    const spam = await net.user();
    const spamConv = await spam.client.createConversation([bob.name]);
    await spam.client.send(spamConv.id, 'buy now');
    for (const d of [bob.client, bobPhone]) await waitFor(async () => (await ids(d.requests.list())).includes(spamConv.id), 'the request on both devices');
    await bobPhone.requests.delete(spamConv.id);
    for (const d of [bob.client, bobPhone]) {
      await waitFor(async () => !(await ids(d.requests.list())).includes(spamConv.id), 'gone');
      assert.ok(!(await ids(d.conversationSummaries())).includes(spamConv.id));
      assert.ok(!(await ids(d.conversations())).includes(spamConv.id));
    }
    await waitFor(async () => (await spam.client.conversation(spamConv.id)).members.every((m) => m.userId !== bob.client.userId), 'bob left the group');
    await spam.client.send(spamConv.id, 'still there?');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await bob.client.messages(spamConv.id), [], 'forgotten, nothing new stored');
    assert.deepEqual(net.errors.filter((e) => e.event.code !== 'undecryptable').map((e) => e.event.code), []);
  });

  it('a group invitation from a non-contact is a request, from a contact it is not; own devices added later follow', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    await bob.client.contacts.add(alice.name);
    // Carol (a stranger to bob) creates a group with bob and alice.
    const byStranger = await carol.client.createConversation([bob.name, alice.name], { title: 'party' });
    await waitFor(async () => (await ids(bob.client.requests.list())).includes(byStranger.id), 'a request');
    // Alice (bob's contact) creates one with bob and carol: not a request, though carol is in it.
    const byContact = await alice.client.createConversation([bob.name, carol.name], { title: 'work' });
    await waitFor(async () => (await ids(bob.client.conversationSummaries())).includes(byContact.id), 'in the list');
    assert.deepEqual(await ids(bob.client.requests.list()), [byStranger.id]);
    // Alice adds dave (a stranger to alice? no: dave does not know alice) to her group: a request for dave.
    const dave = await net.user();
    await alice.client.addMembers(byContact.id, [dave.name]);
    await waitFor(async () => (await ids(dave.client.requests.list())).includes(byContact.id), 'a request for dave');
    assert.equal((await dave.client.conversation(byContact.id)).invitedBy, alice.client.userId);

    // A device bob links now: the pending one stays a request there, the accepted one does not.
    const bobLaptop = await net.device(bob);
    await waitFor(async () => (await ids(bobLaptop.conversations())).length === 2, 'the laptop is added to both');
    await waitFor(async () => (await ids(bobLaptop.requests.list())).includes(byStranger.id), 'still a request on the new device');
    assert.deepEqual(await ids(bobLaptop.conversationSummaries()), [byContact.id]);
  });
});
