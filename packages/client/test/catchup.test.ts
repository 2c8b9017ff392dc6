import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitFrame } from '@parley/protocol';
import { MemoryStore, ParleyClient, StoreError } from '../src/index.js';
import type { ClientEventError, Message, Store, StoreEntry, StoreListOptions, StoreTable, StoreWrite, WireSocketFactory } from '../src/index.js';
import { nodeSocketFactory } from '../src/node.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

/**
 * A store over MemoryStore that sees every batch: it keeps what was
 * committed (conversation cursors) readable synchronously, records each
 * batch, and can be told to fail writes.
 */
class WatchedStore implements Store {
  readonly kind = 'watched';
  readonly inner = new MemoryStore();
  readonly batches: StoreWrite[][] = [];
  /** Committed cursor (conversation lastSeq) per group. */
  readonly cursors = new Map<string, number>();
  /** Throws on writes holding messages while this returns true (given how many such writes came before). */
  failWhen: (messageWrites: number) => boolean = () => false;
  private messageWrites = 0;

  /** Counts writes holding messages from now on (the set-up before a test wrote some too). */
  countFromNow(): void {
    this.messageWrites = 0;
  }

  get(table: StoreTable, key: string): Promise<string | undefined> {
    return this.inner.get(table, key);
  }

  list(table: StoreTable, options?: StoreListOptions): Promise<StoreEntry[]> {
    return this.inner.list(table, options);
  }

  async write(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.some((w) => w.table === 'messages')) {
      if (this.failWhen(this.messageWrites++)) throw new StoreError('io', 'disk full (test)');
    }
    await this.inner.write(writes);
    this.batches.push([...writes]);
    for (const w of writes) {
      if (w.table === 'conversations' && w.type === 'put') this.cursors.set(w.key, (JSON.parse(w.value) as { lastSeq: number }).lastSeq);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Outgoing acknowledgements (`ack` frames and acks riding on sends), each checked against what the store committed when it left. */
function ackWatcher(store: WatchedStore): { factory: WireSocketFactory; acks: Array<{ group: string; seq: number }>; early: string[] } {
  const acks: Array<{ group: string; seq: number }> = [];
  const early: string[] = [];
  const factory: WireSocketFactory = (url, handlers) => {
    const socket = nodeSocketFactory(url, handlers);
    return {
      send: (data) => {
        const header = splitFrame(data).header as { t?: string; group?: string; seq?: number; ack?: number };
        const seq = header.t === 'ack' ? header.seq : header.t === 'send' ? header.ack : undefined;
        if (seq !== undefined && header.group !== undefined) {
          acks.push({ group: header.group, seq });
          if ((store.cursors.get(header.group) ?? 0) < seq) early.push(`${header.group}@${seq} acknowledged with ${store.cursors.get(header.group) ?? 0} stored`);
        }
        socket.send(data);
      },
      close: (code, reason) => socket.close(code, reason),
    };
  };
  return { factory, acks, early };
}

/** Holds delivered frames from the first `msg` on until `count` of them arrived, then hands them over together (one run, deterministically). */
function inOneBurst(inner: WireSocketFactory, count: number): WireSocketFactory {
  return (url, handlers) => {
    const held: Uint8Array[] = [];
    let seen = 0;
    return inner(url, {
      ...handlers,
      onMessage: (data) => {
        const t = (splitFrame(data).header as { t?: string }).t;
        if (t === 'msg') seen++;
        if (seen === 0 || seen > count || (held.length === 0 && t !== 'msg')) {
          handlers.onMessage(data);
          return;
        }
        held.push(data);
        if (seen === count) for (const d of held.splice(0)) handlers.onMessage(d);
      },
    });
  };
}

/** Message seqs in each batch that wrote this conversation's MLS state, with the cursor it stored and the one before. */
function groupWrites(store: WatchedStore, conversationId: string, fromBatch: number): Array<{ messages: number[]; cursor: number | undefined }> {
  return store.batches.slice(fromBatch).flatMap((writes) => {
    if (!writes.some((w) => w.table === 'groups' && w.key === conversationId)) return [];
    const messages = writes.filter((w) => w.table === 'messages' && w.type === 'put' && w.key.startsWith(`${conversationId}/`)).map((w) => Number(w.key.slice(conversationId.length + 1)));
    const conv = writes.find((w) => w.table === 'conversations' && w.key === conversationId);
    return [{ messages, cursor: conv?.type === 'put' ? (JSON.parse(conv.value) as { lastSeq: number }).lastSeq : undefined }];
  });
}

async function setup(net: ClientNetwork, waiting: number) {
  const alice = await net.user();
  const store = new WatchedStore();
  const bob = await net.user(undefined, { store });
  const conv = await alice.client.createConversation([bob.name]);
  await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
  await bob.client.close();
  for (let i = 0; i < waiting; i++) await alice.client.send(conv.id, `m${i}`);
  return { alice, bob, store, conv };
}

/** Bob's device again, from `store`, with listeners attached before it connects. */
async function resume(net: ClientNetwork, store: Store, webSocket: WireSocketFactory) {
  const client = new ParleyClient({ serverUrl: net.url, store, webSocket, deviceSyncIntervalMs: 0, reconnect: { initialMs: 50, maxMs: 500 } });
  net.clients.push(client);
  const messages: Message[] = [];
  const errors: ClientEventError[] = [];
  client.on('message', (m) => messages.push(m));
  client.on('error', (e) => errors.push(e));
  await client.resume();
  return { client, messages, errors };
}

const seqsOf = (messages: readonly Message[]) => messages.map((m) => m.seq);

describe('client: catch-up in batches', () => {
  it('stores a backlog in few batches: the MLS state only with the messages it decrypted, acknowledged and shown only once stored', async () => {
    await using net = await ClientNetwork.start();
    const waiting = 300;
    const { alice, store, conv } = await setup(net, waiting);
    const before = store.batches.length;
    const watcher = ackWatcher(store);
    const bob = await resume(net, store, watcher.factory);
    // A send in the middle of the backlog waits for the run it lands in (same group lock).
    let reply: Promise<Message> | undefined;
    bob.client.on('message', (m) => {
      if (m.content.type === 'text' && m.content.text === 'm100') reply = bob.client.send(conv.id, 'reply from bob');
    });
    await waitFor(() => bob.messages.filter((m) => !m.outgoing).length === waiting && reply !== undefined, 'bob catches up', 30_000);
    const sent = await (reply as Promise<Message>);
    await bob.client.whenSynced();

    const incoming = bob.messages.filter((m) => !m.outgoing);
    assert.deepEqual(seqsOf(incoming), [...seqsOf(incoming)].sort((a, b) => a - b), 'events in seq order');
    assert.equal(new Set(seqsOf(incoming)).size, waiting, 'each message once');
    assert.ok(sent.seq > Math.max(...seqsOf(incoming.filter((m) => m.content.type === 'text' && m.content.text === 'm100'))));

    const writes = groupWrites(store, conv.id, before);
    const received = writes.filter((w) => w.messages.length > 0 && w.cursor !== undefined);
    assert.ok(received.length <= waiting / 5, `${received.length} batches for ${waiting} messages`);
    let cursor = Math.min(...seqsOf(incoming)) - 1;
    for (const w of received) {
      // The state is written with exactly the messages it decrypted since the last write: no gap, nothing ahead.
      const expected = Array.from({ length: (w.cursor ?? 0) - cursor }, (_, i) => cursor + 1 + i);
      assert.deepEqual(w.messages, expected, 'a batch holds every message between the cursors');
      cursor = w.cursor ?? cursor;
    }
    assert.deepEqual(watcher.early, [], 'nothing acknowledged before it was stored');
    assert.ok(watcher.acks.some((a) => a.group === conv.id && a.seq >= Math.max(...seqsOf(incoming))), 'the backlog was acknowledged');
    assert.deepEqual(bob.errors, []);

    // The stored state is the one the messages left: after a restart the next message decrypts.
    await bob.client.close();
    await alice.client.send(conv.id, 'after the restart');
    const again = await resume(net, store, watcher.factory);
    await waitFor(() => again.messages.some((m) => m.content.type === 'text' && m.content.text === 'after the restart'), 'bob reads on after a restart');
    const history = await texts(again.client, conv.id);
    assert.equal(history.length, waiting + 2);
    assert.deepEqual(again.errors, []);
    assert.deepEqual(watcher.early, []);
  });

  it('changes and own messages inside one run read the run itself: a reaction and an edit to a message in the same batch, the unread count after an own device\'s message', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const store = new WatchedStore();
    const bob = await net.user(undefined, { store });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const bob2 = await net.device(bob);
    await waitFor(async () => (await bob2.conversations()).some((c) => c.id === conv.id), 'bob2 is added');
    await bob.client.close();
    const first = await alice.client.send(conv.id, 'first');
    await alice.client.react(conv.id, { seq: first.seq, id: first.id }, '👍');
    await alice.client.editMessage(conv.id, { seq: first.seq, id: first.id }, 'first, edited');
    await alice.client.send(conv.id, 'second');
    const own = await bob2.send(conv.id, 'from my other device');
    await alice.client.send(conv.id, 'third');
    const before = store.batches.length;
    const again = await resume(net, store, inOneBurst(ackWatcher(store).factory, 6));
    await waitFor(async () => (await texts(again.client, conv.id)).length === 4, 'bob catches up', 30_000);
    await again.client.whenSynced();
    const writes = groupWrites(store, conv.id, before).filter((w) => w.messages.length > 0);
    assert.equal(writes.length, 1, 'the whole backlog was one run');
    const [stored] = await again.client.messages(conv.id, { limit: 1 });
    assert.equal(stored?.content.type === 'text' ? stored.content.text : null, 'first, edited');
    assert.notEqual(stored?.editedAt, null);
    assert.deepEqual(stored?.reactions.map((r) => [r.emoji, r.users.length]), [['👍', 1]]);
    const record = await again.client.conversation(conv.id);
    assert.equal(record.readSeq, own.seq, 'the own device\'s message moved the read position');
    assert.equal(record.unread, 1, 'only the message after it is unread');
    assert.deepEqual(again.errors, []);
  });

  it('a write that fails mid-backlog stores and acknowledges nothing of its run; the frames come again and every message arrives once', async () => {
    await using net = await ClientNetwork.start();
    const waiting = 200;
    const { store, conv } = await setup(net, waiting);
    store.failWhen = (n) => n === 1;
    const watcher = ackWatcher(store);
    const bob = await resume(net, store, watcher.factory);
    await waitFor(async () => (await texts(bob.client, conv.id)).length === waiting, 'bob has everything after the redelivery', 30_000);
    await bob.client.whenSynced();
    assert.deepEqual(
      bob.errors.map((e) => e.code),
      ['internal'],
      'one error: the failed write (no undecryptable message: the group was loaded again from the store)',
    );
    const incoming = bob.messages.filter((m) => !m.outgoing);
    assert.equal(incoming.length, waiting, 'each message shown once');
    assert.equal(new Set(seqsOf(incoming)).size, waiting);
    assert.deepEqual(await texts(bob.client, conv.id), Array.from({ length: waiting }, (_, i) => `m${i}`));
    assert.deepEqual(watcher.early, [], 'nothing acknowledged before it was stored');
  });

  it('after a crash mid-backlog (every write failing from then on), a restart brings every message exactly once', async () => {
    await using net = await ClientNetwork.start();
    // More than two runs' worth (a run holds at most 200 frames), so the first run is stored and a later one fails, whatever the timing.
    const waiting = 420;
    const { alice, store, conv } = await setup(net, waiting);
    store.countFromNow();
    store.failWhen = (n) => n >= 1;
    const watcher = ackWatcher(store);
    const first = await resume(net, store, watcher.factory);
    await waitFor(() => first.errors.some((e) => e.code === 'internal'), 'the write fails', 30_000);
    await first.client.close();
    const shownBefore = seqsOf(first.messages);
    assert.ok(shownBefore.length > 0 && shownBefore.length < waiting, `${shownBefore.length} shown before the crash`);
    assert.deepEqual((await texts(first.client, conv.id)).length, shownBefore.length, 'what was shown is what was stored');

    store.failWhen = () => false;
    const second = await resume(net, store, watcher.factory);
    await waitFor(async () => (await texts(second.client, conv.id)).length === waiting, 'the rest arrives after the restart', 30_000);
    await second.client.whenSynced();
    const all = [...shownBefore, ...seqsOf(second.messages)];
    assert.equal(all.length, waiting, 'every message shown once over both runs');
    assert.equal(new Set(all).size, waiting);
    assert.deepEqual(await texts(second.client, conv.id), Array.from({ length: waiting }, (_, i) => `m${i}`));
    assert.deepEqual(second.errors, [], 'no ratchet key was used twice or skipped');
    assert.deepEqual(watcher.early, []);
    // And the conversation goes on in both directions.
    await second.client.send(conv.id, 'back');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('back'), 'alice reads bob');
  });
});
