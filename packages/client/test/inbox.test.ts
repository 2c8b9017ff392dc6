// An in-memory IndexedDB for this process: one client here keeps its data in the IndexedDB adapter.
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ClientError, IndexedDbStore, MemoryStore } from '../src/index.js';
import type { Conversation, Message } from '../src/index.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (m: Message | null | undefined) => (m?.content.type === 'text' ? m.content.text : null);

describe('client: unread counts, conversation summaries and paging', () => {
  it('counts unread incoming messages across markRead, own messages and a reopen of the store', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const dbName = `bob-${randomBytes(5).toString('hex')}`;
    let store = await IndexedDbStore.open(dbName);
    try {
      const bob = await net.user(undefined, { store });
      // Alice is bob's contact: her chat is in bob's list, not a message request (people/).
      await bob.client.contacts.add(alice.name);
      const conv = await alice.client.createConversation([bob.name]);
      await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
      let [summary] = await bob.client.conversationSummaries();
      assert.equal(summary?.unread, 0);
      assert.equal(summary?.lastMessage, null);
      assert.equal(summary?.lastActivityAt, summary?.createdAt);

      for (const t of ['a1', 'a2', 'a3']) await alice.client.send(conv.id, t);
      await waitFor(async () => (await texts(bob.client, conv.id)).length === 3, 'bob receives 3');
      [summary] = await bob.client.conversationSummaries();
      assert.equal(summary?.unread, 3);
      assert.equal(text(summary?.lastMessage), 'a3');
      assert.equal(summary?.lastActivityAt, summary?.lastMessage?.receivedAt);
      // Outgoing messages never count on the sender's side.
      assert.equal((await alice.client.conversationSummaries())[0]?.unread, 0);

      const [a1, a2, a3] = await bob.client.messages(conv.id);
      assert.ok(a1 && a2 && a3);
      const events: Conversation[] = [];
      bob.client.on('conversation', (c) => events.push(c));
      await bob.client.markRead(conv.id, a2.seq);
      assert.equal((await bob.client.conversation(conv.id)).unread, 1);
      assert.deepEqual(events.map((c) => [c.readSeq, c.unread]), [[a2.seq, 1]], 'one conversation event with the new position');
      await bob.client.markRead(conv.id, a1.seq);
      await bob.client.markRead(conv.id, a2.seq);
      assert.equal(events.length, 1, 'moving back (or nowhere) changes nothing and emits nothing');
      assert.equal((await bob.client.conversation(conv.id)).readSeq, a2.seq);

      await alice.client.send(conv.id, 'a4');
      await waitFor(async () => (await bob.client.conversation(conv.id)).unread === 2, 'a4 is unread too');
      // Sending marks everything up to the sent message read.
      const b1 = await bob.client.send(conv.id, 'b1');
      const afterSend = await bob.client.conversation(conv.id);
      assert.equal(afterSend.unread, 0);
      assert.equal(afterSend.readSeq, b1.seq);
      assert.equal(text((await bob.client.conversationSummaries())[0]?.lastMessage), 'b1');
      await waitFor(async () => (await alice.client.conversation(conv.id)).unread === 1, 'alice has one unread: b1');

      // Bob goes away; alice writes; bob comes back from the same database.
      await bob.client.close();
      await store.close();
      await alice.client.send(conv.id, 'a5');
      store = await IndexedDbStore.open(dbName);
      const bob2 = await net.client({ store });
      await bob2.whenSynced();
      await waitFor(async () => (await texts(bob2, conv.id)).includes('a5'), 'bob catches up');
      const reopened = await bob2.conversation(conv.id);
      assert.equal(reopened.readSeq, b1.seq, 'the read position survived the reopen');
      assert.equal(reopened.unread, 1);

      // A position beyond anything known is clamped, so later messages still count.
      await bob2.markRead(conv.id, Number.MAX_SAFE_INTEGER);
      assert.equal((await bob2.conversation(conv.id)).unread, 0);
      await alice.client.send(conv.id, 'a6');
      await waitFor(async () => (await bob2.conversation(conv.id)).unread === 1, 'a6 is unread');
      await assert.rejects(bob2.markRead(conv.id, -1), (err: unknown) => err instanceof ClientError && err.code === 'bad_request');
      await bob2.close();
      assert.deepEqual(net.errors.map((e) => e.event.code), []);
    } finally {
      await store.close();
      await IndexedDbStore.destroy(dbName);
    }
  });

  it('does not count messages from the user\'s other devices, and they move the read position', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const alice2 = await net.device(alice);
    await alice.client.syncDevices();
    await waitFor(async () => (await alice2.conversations()).some((c) => c.id === conv.id), 'alice2 joins');
    await bob.client.send(conv.id, 'to both of alice');
    await waitFor(async () => (await alice.client.conversation(conv.id)).unread === 1, 'unread on alice1');
    await alice2.send(conv.id, 'answered from alice2');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('answered from alice2'), 'alice1 sees it');
    const c = await alice.client.conversation(conv.id);
    assert.equal(c.unread, 0, 'answering from another device reads the conversation');
    assert.equal(text((await alice.client.conversationSummaries())[0]?.lastMessage), 'answered from alice2');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('sorts summaries by last activity, newest first; a conversation without messages counts from its creation', async () => {
    await using net = await ClientNetwork.start();
    const [alice, bob, carol] = [await net.user(), await net.user(), await net.user()];
    const withBob = await alice.client.createConversation([bob.name]);
    await sleep(5);
    const withCarol = await alice.client.createConversation([carol.name]);
    await sleep(5);
    const group = await alice.client.createConversation([bob.name, carol.name], { title: 'trio' });
    await sleep(5);
    await alice.client.send(withCarol.id, 'to carol');
    await sleep(5);
    await alice.client.send(withBob.id, 'to bob');
    let list = await alice.client.conversationSummaries();
    // The group was created before both messages, so it sorts last; rosters are not messages.
    assert.deepEqual(list.map((c) => c.id), [withBob.id, withCarol.id, group.id]);
    assert.deepEqual(list.map((c) => text(c.lastMessage)), ['to bob', 'to carol', null]);
    assert.equal(list[2]?.lastActivityAt, group.createdAt);
    for (let i = 1; i < list.length; i++) assert.ok((list[i - 1]?.lastActivityAt ?? 0) >= (list[i]?.lastActivityAt ?? 0));

    await sleep(5);
    await carol.client.whenSynced();
    await waitFor(async () => (await carol.client.conversations()).length === 2, 'carol joins both');
    await carol.client.send(group.id, 'carol in the group');
    await waitFor(async () => text((await alice.client.conversationSummaries())[0]?.lastMessage) === 'carol in the group', 'the group moves to the top');
    list = await alice.client.conversationSummaries();
    assert.deepEqual(list.map((c) => c.id), [group.id, withBob.id, withCarol.id]);
    assert.deepEqual(list.map((c) => c.unread), [1, 0, 0]);
    assert.equal(list[0]?.title, 'trio');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('pages backwards with beforeSeq and latest, in ascending order, without gaps or repeats', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const sent: string[] = [];
    for (let i = 0; i < 23; i++) {
      sent.push(`m${i}`);
      // Both sides write, so the seqs interleave with each other's and are not contiguous per sender.
      await (i % 3 === 0 ? bob.client : alice.client).send(conv.id, `m${i}`);
      if (i % 3 === 0) await waitFor(async () => (await texts(alice.client, conv.id)).includes(`m${i}`), 'alice has it');
    }
    const all = await alice.client.messages(conv.id);
    assert.deepEqual(all.map(text), sent);
    const seqs = all.map((m) => m.seq);
    const seq = (i: number): number => {
      const v = seqs[i];
      assert.ok(v !== undefined);
      return v;
    };

    const newest = await alice.client.messages(conv.id, { latest: true, limit: 10 });
    assert.deepEqual(newest.map((m) => m.seq), seqs.slice(-10));
    assert.deepEqual(await alice.client.messages(conv.id, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: 10 }), newest);
    const pages = [newest];
    for (;;) {
      const oldest = pages[0]?.[0];
      assert.ok(oldest);
      const page = await alice.client.messages(conv.id, { beforeSeq: oldest.seq, limit: 10 });
      pages.unshift(page);
      if (page.length < 10) break;
    }
    assert.deepEqual(pages.map((p) => p.length), [3, 10, 10]);
    assert.deepEqual(pages.flat().map((m) => m.seq), seqs);

    // limit alone still means the oldest messages, afterSeq pages forwards as before.
    assert.deepEqual((await alice.client.messages(conv.id, { limit: 4 })).map((m) => m.seq), seqs.slice(0, 4));
    assert.deepEqual((await alice.client.messages(conv.id, { afterSeq: seq(3), limit: 2 })).map((m) => m.seq), seqs.slice(4, 6));
    // beforeSeq without limit: everything below; with afterSeq: the range between; latest with afterSeq: the newest in range.
    assert.deepEqual((await alice.client.messages(conv.id, { beforeSeq: seq(5) })).map((m) => m.seq), seqs.slice(0, 5));
    assert.deepEqual((await alice.client.messages(conv.id, { afterSeq: seq(2), beforeSeq: seq(6) })).map((m) => m.seq), seqs.slice(3, 6));
    assert.deepEqual((await alice.client.messages(conv.id, { afterSeq: seq(2), beforeSeq: seq(9), limit: 2 })).map((m) => m.seq), seqs.slice(7, 9));
    assert.deepEqual((await alice.client.messages(conv.id, { afterSeq: seq(20), latest: true, limit: 5 })).map((m) => m.seq), seqs.slice(21));
    assert.deepEqual(await alice.client.messages(conv.id, { beforeSeq: seq(0), limit: 10 }), []);
    assert.deepEqual(await alice.client.messages(conv.id, { latest: true, limit: 0 }), []);
    for (const bad of [{ beforeSeq: -1 }, { limit: 1.5 }, { afterSeq: Number.NaN }]) {
      await assert.rejects(alice.client.messages(conv.id, bad), (err: unknown) => err instanceof ClientError && err.code === 'bad_request');
    }
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('upgrades conversation records written before read positions existed', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const store = new MemoryStore();
    const bob = await net.user(undefined, { store });
    await bob.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.send(conv.id, 'old one');
    await alice.client.send(conv.id, 'old two');
    await waitFor(async () => (await texts(bob.client, conv.id)).length === 2, 'bob has both');
    await bob.client.close();

    // Rewrite the record as the previous version stored it: no read position, unread count or last message.
    const raw = await store.get('conversations', conv.id);
    assert.ok(raw !== undefined);
    const { readSeq: _r, unread: _u, lastMessageSeq: _l, kind: _k, ...v1 } = JSON.parse(raw) as Record<string, unknown>;
    await store.write([{ type: 'put', table: 'conversations', key: conv.id, value: JSON.stringify({ ...v1, v: 1 }) }]);

    const bob2 = await net.client({ store });
    await bob2.whenSynced();
    const upgraded = JSON.parse((await store.get('conversations', conv.id)) ?? '{}') as { v?: number; lastMessageSeq?: number };
    assert.equal(upgraded.v, 2, 'the record was rewritten at start');
    const [summary] = await bob2.conversationSummaries();
    assert.equal(text(summary?.lastMessage), 'old two');
    assert.equal(summary?.unread, 0, 'history from before the upgrade counts as read');
    assert.equal(summary?.kind, 'direct', 'a record from before kinds existed: untitled between two users reads as 1:1');
    await alice.client.send(conv.id, 'new');
    await waitFor(async () => (await bob2.conversation(conv.id)).unread === 1, 'new messages count');
    await bob2.close();
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});
