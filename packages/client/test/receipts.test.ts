import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { Message, ParleyClient } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

const FAST = { receiptDelayMs: 30 };

async function statusOf(client: ParleyClient, conversationId: GroupId, seq: number): Promise<Message['status'] | undefined> {
  return (await client.messages(conversationId)).find((m) => m.seq === seq)?.status;
}

describe('client: receipts', () => {
  it('shows delivered, read by N of M and read in a group of four, batched, with the status re-emitted', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, FAST);
    const others = [await net.user(undefined, FAST), await net.user(undefined, FAST), await net.user(undefined, FAST)];
    const [bob, carol, dave] = others as [(typeof others)[0], (typeof others)[0], (typeof others)[0]];
    // Alice is their contact: not a message request, so read receipts go back (people/).
    for (const o of others) await o.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation(others.map((o) => o.name), { title: 'four' });
    for (const o of others) await waitFor(async () => (await o.client.conversations()).some((c) => c.id === conv.id && c.members.length === 4 && c.title === 'four'), 'joined');
    const events: Message[] = [];
    alice.client.on('message', (m) => events.push(m));

    const m1 = await alice.client.send(conv.id, 'one');
    assert.equal(m1.status, 'sent');
    for (const o of others) await waitFor(async () => (await texts(o.client, conv.id)).includes('one'), 'received');
    await waitFor(async () => (await statusOf(alice.client, conv.id, m1.seq)) === 'delivered', 'delivered to every other member');
    // Emitted after the batch that stored it (and after its quote is read): it may trail the store by a moment.
    await waitFor(() => events.some((m) => m.seq === m1.seq && m.status === 'delivered'), 'the status change is emitted');
    let summary = await alice.client.receipts(conv.id, m1.seq);
    assert.equal(summary.others, 3);
    assert.deepEqual(summary.deliveredTo.map((u) => u.username).sort(), others.map((o) => o.name).sort());
    assert.deepEqual(summary.readBy, []);

    await bob.client.markRead(conv.id, m1.seq);
    await waitFor(async () => (await alice.client.receipts(conv.id, m1.seq)).readBy.length === 1, 'read by 1 of 3');
    summary = await alice.client.receipts(conv.id, m1.seq);
    assert.deepEqual(summary.readBy.map((u) => u.username), [bob.name]);
    assert.equal(await statusOf(alice.client, conv.id, m1.seq), 'delivered', 'not read until everyone read it');
    await carol.client.markRead(conv.id, m1.seq);
    await dave.client.markRead(conv.id, m1.seq);
    await waitFor(async () => (await statusOf(alice.client, conv.id, m1.seq)) === 'read', 'read by all');
    assert.equal((await alice.client.receipts(conv.id, m1.seq)).readBy.length, 3);
    await waitFor(() => events.some((m) => m.seq === m1.seq && m.status === 'read'), 'read emitted');
    // One event per status change, not one per receipt.
    assert.equal(events.filter((m) => m.seq === m1.seq && m.status === 'delivered').length, 1);
    assert.equal(events.filter((m) => m.seq === m1.seq && m.status === 'read').length, 1);

    // A burst of ten: each member covers it with a few receipts, not ten.
    const burst: Message[] = [];
    for (let i = 0; i < 10; i++) burst.push(await alice.client.send(conv.id, `b${i}`));
    const last = burst.at(-1) as Message;
    await waitFor(async () => (await statusOf(alice.client, conv.id, last.seq)) === 'delivered', 'burst delivered');
    const stored = await alice.client.messages(conv.id);
    assert.ok(burst.every((b) => stored.find((m) => m.seq === b.seq)?.status === 'delivered'));
    // Receipts are not history: nothing but the texts is stored.
    assert.deepEqual(await texts(bob.client, conv.id), ['one', ...burst.map((_, i) => `b${i}`)]);
    // Others' messages have no status.
    const fromBob = await bob.client.send(conv.id, 'from bob');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('from bob'), 'alice has it');
    assert.equal((await alice.client.messages(conv.id)).find((m) => m.seq === fromBob.seq)?.status, null);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('read receipts off on one side: it sends only delivered and sees no read, either way', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, FAST);
    const bob = await net.user(undefined, FAST);
    const carol = await net.user(undefined, FAST);
    assert.equal(await carol.client.readReceipts(), true, 'on by default');
    await carol.client.setReadReceipts(false);
    assert.equal(await carol.client.readReceipts(), false);
    for (const o of [bob, carol]) await o.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name, carol.name]);
    for (const o of [bob, carol]) await waitFor(async () => (await o.client.conversations()).some((c) => c.id === conv.id && c.members.length === 3), 'joined');

    const m = await alice.client.send(conv.id, 'hello');
    for (const o of [bob, carol]) await waitFor(async () => (await texts(o.client, conv.id)).includes('hello'), 'received');
    await bob.client.markRead(conv.id, m.seq);
    await carol.client.markRead(conv.id, m.seq);
    await waitFor(async () => (await alice.client.receipts(conv.id, m.seq)).deliveredTo.length === 2, 'delivered to both');
    await waitFor(async () => (await alice.client.receipts(conv.id, m.seq)).readBy.length === 1, 'bob read');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual((await alice.client.receipts(conv.id, m.seq)).readBy.map((u) => u.username), [bob.name], 'carol sends no read receipt');
    assert.equal(await statusOf(alice.client, conv.id, m.seq), 'delivered');

    // carol's own message: read by both others, but she does not see it.
    const c = await carol.client.send(conv.id, 'mine');
    for (const o of [alice, bob]) {
      await waitFor(async () => (await texts(o.client, conv.id)).includes('mine'), 'received');
      await o.client.markRead(conv.id, c.seq);
    }
    await waitFor(async () => (await carol.client.receipts(conv.id, c.seq)).deliveredTo.length === 2, 'delivered');
    await waitFor(async () => (await bob.client.receipts(conv.id, c.seq)).readBy.length === 1, 'alice read receipt reached bob');
    assert.deepEqual((await carol.client.receipts(conv.id, c.seq)).readBy, []);
    assert.equal(await statusOf(carol.client, conv.id, c.seq), 'delivered');
    // Turned on again: read positions are shown.
    await carol.client.setReadReceipts(true);
    assert.equal(await statusOf(carol.client, conv.id, c.seq), 'read');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it("a receipt from the user's other device moves this device's read position; the setting is synced between them", async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, FAST);
    const laptop = await net.device(alice, FAST);
    const bob = await net.user(undefined, FAST);
    await alice.client.contacts.add(bob.name);
    const conv = await bob.client.createConversation([alice.name]);
    for (const c of [alice.client, laptop]) await waitFor(async () => (await c.conversations()).some((x) => x.id === conv.id), 'joined');
    const sent = [await bob.client.send(conv.id, 'one'), await bob.client.send(conv.id, 'two')];
    for (const c of [alice.client, laptop]) await waitFor(async () => (await c.conversation(conv.id)).unread === 2, 'two unread');
    const last = sent[1] as Message;
    await alice.client.markRead(conv.id, last.seq);
    const onLaptop = await waitFor(async () => {
      const c = await laptop.conversation(conv.id);
      return c.readSeq >= last.seq ? c : undefined;
    }, 'read on the laptop too');
    assert.equal(onLaptop.unread, 0);
    // And bob sees alice's read receipt.
    await waitFor(async () => (await statusOf(bob.client, conv.id, last.seq)) === 'read', 'bob sees read');
    // The setting follows the user to her other device (self group); the latest change wins.
    await alice.client.setReadReceipts(false);
    await waitFor(async () => (await laptop.readReceipts()) === false, 'the laptop turns read receipts off too');
    await laptop.setReadReceipts(true);
    await waitFor(async () => await alice.client.readReceipts(), 'and on again from the laptop');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('refuses a receipt beyond the conversation with invalid_change, changing nothing', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user(undefined, FAST);
    const bob = await net.user(undefined, FAST);
    // A contact's chat: not a message request, whose receipts would be held back.
    await bob.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const m = await alice.client.send(conv.id, 'hi');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 1, 'bob receives');
    await waitFor(async () => (await statusOf(alice.client, conv.id, m.seq)) === 'delivered', 'delivered');
    const bogus = encodeContent({ type: 'receipt', v: 1, id: newContentId(), sentAt: Date.now(), delivered: 1_000_000, read: 1_000_000 });
    await bob.client.testing.sendPlaintext(conv.id, bogus);
    const err = await waitFor(() => net.errorsOf(alice.client).find((e) => e.code === 'invalid_change'), 'invalid_change');
    assert.equal(err.conversationId, conv.id);
    assert.equal(await statusOf(alice.client, conv.id, m.seq), 'delivered', 'nothing changed');
    assert.deepEqual((await alice.client.receipts(conv.id, m.seq)).readBy, []);
  });
});
