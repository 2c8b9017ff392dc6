import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupId, UserId } from '@parley/protocol';
import type { BlockedUser, Conversation, ParleyClient, TypingEvent } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { isClientError } from './helpers/errors.js';

async function ids(list: Promise<Array<{ id: GroupId }>>): Promise<GroupId[]> {
  return (await list).map((c) => c.id);
}

async function has(client: ParleyClient, conversationId: GroupId, text: string): Promise<boolean> {
  return (await texts(client, conversationId)).includes(text);
}

describe('client: blocking', () => {
  it('drops a blocked user\u2019s messages, reactions, typing and invitations on every own device, leaves the 1:1 chat, and tells them nothing', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const phone = await net.device(alice);
    const mallory = await net.user();
    const carol = await net.user();
    const alices = [alice.client, phone];
    await alice.client.contacts.add(carol.name);
    // A 1:1 chat alice started (mallory is her contact), and a group of carol's with both.
    const direct = await alice.client.createConversation([mallory.name]);
    const group = await carol.client.createConversation([alice.name, mallory.name], { title: 'club' });
    for (const d of alices) await waitFor(async () => (await ids(d.conversationSummaries())).length === 2, 'both conversations on both devices');
    await mallory.client.send(direct.id, 'hi alice');
    const fromCarol = await carol.client.send(group.id, 'welcome');
    for (const d of alices) await waitFor(async () => (await has(d, direct.id, 'hi alice')) && (await has(d, group.id, 'welcome')), 'messages arrive');

    const blocksSeen: BlockedUser[][] = [];
    phone.on('blocks', (list) => blocksSeen.push(list));
    await alice.client.blocks.block(mallory.name);
    assert.deepEqual(
      (await alice.client.blocks.list()).map((b) => [b.userId, b.username]),
      [[mallory.client.userId, mallory.name]],
    );
    await waitFor(async () => (await phone.blocks.list()).length === 1, 'the block reaches the phone');
    assert.ok(blocksSeen.length > 0);
    // The contact is removed (everywhere), the 1:1 chat left (the phone is removed from it by the first device).
    assert.equal(await alice.client.contacts.get(mallory.client.userId as UserId), null);
    await waitFor(async () => (await phone.contacts.get(mallory.client.userId as UserId)) === null, 'contact removed on the phone');
    assert.equal((await alice.client.conversation(direct.id)).status, 'left');
    await waitFor(async () => (await phone.conversation(direct.id)).status !== 'active', 'the phone is out of the 1:1 chat');
    await waitFor(async () => (await mallory.client.conversation(direct.id)).members.every((m) => m.userId !== alice.client.userId), 'alice\u2019s devices left');

    // In the shared group: nothing of mallory's is kept, carol's messages still are (carol's message comes after, as a marker).
    const aliceTyping: TypingEvent[] = [];
    for (const d of alices) d.on('typing', (e) => aliceTyping.push(e));
    await mallory.client.setTyping(group.id, true);
    await mallory.client.send(group.id, 'you cannot ignore me');
    await mallory.client.react(group.id, { seq: fromCarol.seq, id: fromCarol.id }, '👎');
    await carol.client.send(group.id, 'marker');
    for (const d of alices) await waitFor(async () => has(d, group.id, 'marker'), 'the marker arrives');
    for (const d of alices) {
      assert.ok(!(await has(d, group.id, 'you cannot ignore me')), 'the blocked user\u2019s message is not stored');
      const welcome = (await d.messages(group.id)).find((m) => m.seq === fromCarol.seq);
      assert.deepEqual(welcome?.reactions, [], 'nor their reaction');
    }
    assert.deepEqual(aliceTyping.filter((e) => e.userId === mallory.client.userId), []);
    // carol (not blocked) sees mallory's message and reaction as usual.
    await waitFor(async () => has(carol.client, group.id, 'you cannot ignore me'), 'carol reads mallory');

    // A new invitation from mallory: never shown on either device, and alice's devices leave it.
    const joinedEvents: Conversation[] = [];
    for (const d of alices) d.on('conversation', (c) => joinedEvents.push(c));
    const invite = await mallory.client.createConversation([alice.name], { title: 'please' });
    await mallory.client.send(invite.id, 'talk to me');
    await waitFor(async () => {
      const c = await mallory.client.conversation(invite.id);
      return c.members.length === 1;
    }, 'alice\u2019s devices leave the invitation');
    for (const d of alices) {
      assert.ok(!(await ids(d.requests.list())).includes(invite.id));
      assert.ok(!(await ids(d.conversations())).includes(invite.id));
      assert.deepEqual(await d.messages(invite.id).catch(() => []), []);
    }
    assert.ok(!joinedEvents.some((c) => c.id === invite.id), 'no conversation event for it');
    // The blocked user got no error and no message from alice's devices.
    assert.deepEqual(net.errorsOf(mallory.client).map((e) => e.code), []);
    for (const id of [direct.id, group.id, invite.id]) {
      assert.ok((await mallory.client.messages(id)).every((m) => m.sender.userId !== alice.client.userId || m.content.type === 'notice'));
    }

    // Unblocking (on the phone): mallory's messages in the group are kept again, on both devices.
    await phone.blocks.unblock(mallory.client.userId as UserId);
    await waitFor(async () => (await alice.client.blocks.list()).length === 0, 'unblocked everywhere');
    await mallory.client.send(group.id, 'friends again?');
    for (const d of alices) await waitFor(async () => has(d, group.id, 'friends again?'), 'kept again');
    await assert.rejects(phone.blocks.unblock(mallory.client.userId as UserId), isClientError('not_found'));
    await assert.rejects(alice.client.blocks.block(alice.name), isClientError('bad_request'));
    assert.deepEqual(
      net.errors.filter((e) => e.client !== mallory.client && e.event.code !== 'undecryptable').map((e) => `${e.event.code}: ${e.event.error.message}`),
      [],
    );
  });

  it('blocking from a request deletes it and blocks the inviter; their requests on the other device go too', async () => {
    await using net = await ClientNetwork.start();
    const bob = await net.user();
    const phone = await net.device(bob);
    const spammer = await net.user();
    const a = await spammer.client.createConversation([bob.name]);
    const b = await spammer.client.createConversation([bob.name], { title: 'second' });
    for (const d of [bob.client, phone]) await waitFor(async () => (await ids(d.requests.list())).length === 2, 'two requests on each device');
    await phone.requests.block(a.id);
    for (const d of [bob.client, phone]) {
      await waitFor(async () => (await ids(d.requests.list())).length === 0, 'both requests gone');
      assert.deepEqual((await d.blocks.list()).map((x) => x.userId), [spammer.client.userId]);
    }
    await waitFor(async () => (await spammer.client.conversation(b.id)).members.length === 1, 'bob left the second one as well');
    await assert.rejects(bob.client.requests.accept(a.id), isClientError('not_found'));
  });
});
