import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeServerFrame, selfGroupId, toBase64Url } from '@parley/protocol';
import type { BlobDigest, DeviceId, GroupId } from '@parley/protocol';
import { MemoryStore } from '../src/index.js';
import type { HistoryEvent, Message, ParleyClient, Store, WireSocketFactory } from '../src/index.js';
import { nodeSocketFactory } from '../src/node.js';
import { writeArchive } from '../src/history/archive-writer.js';
import type { HistoryArchiveMessage } from '../src/history/archive-message.js';
import { encodeSelfMessage } from '../src/self/self-messages.js';
import { ClientRepository } from '../src/store/records.js';
import { HttpApi } from '../src/transport/http-api.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { filesUnder, marker, needles } from './helpers/seizure.js';

type User = Awaited<ReturnType<ClientNetwork['user']>>;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A new device of `user`, with its 'history' events recorded from the start. */
async function newDevice(net: ClientNetwork, options: { store?: Store; webSocket?: WireSocketFactory } = {}): Promise<{ client: ParleyClient; store: Store; events: HistoryEvent[] }> {
  const store = options.store ?? new MemoryStore();
  const client = await net.client({ store, ...(options.webSocket === undefined ? {} : { webSocket: options.webSocket }) });
  const events: HistoryEvent[] = [];
  client.on('history', (e) => events.push(e));
  return { client, store, events };
}

async function link(user: User, device: ParleyClient, history?: 'none' | 'month' | 'all'): Promise<void> {
  const pending = await device.linkDevice(user.name, user.password);
  await user.client.approveLink(pending.uri, history === undefined ? {} : { history });
  await pending.approved;
}

/** What the view shows of each message: sender, text (edited), reactions, deleted. */
async function view(client: ParleyClient, id: GroupId): Promise<unknown[]> {
  return (await client.messages(id))
    .filter((m) => m.content.type !== 'notice')
    .map((m: Message) => ({
      seq: m.seq,
      from: m.sender.userId,
      content: m.content.type === 'text' ? m.content.text : m.content.type === 'attachment' ? `[attachment ${m.content.fileName} ${m.content.caption ?? ''}]` : `[${m.content.type}]`,
      edited: m.editedAt !== null,
      reactions: m.reactions.map((r) => `${r.emoji}:${r.users.length}`),
    }));
}

/** The records of a table, for "nothing changed" checks. */
async function table(store: Store, name: 'messages' | 'media'): Promise<string[]> {
  return (await store.list(name)).map((r) => `${r.key}=${r.value}`);
}

/** A device of this user whose name it can read holds the account key: it is in the self group. */
async function inSelfGroup(device: ParleyClient, other: ParleyClient): Promise<boolean> {
  return (await device.devices()).some((d) => d.id === other.deviceId && d.name !== null);
}

/** Drops incoming frames of one group while `hold` is set (they stay unacknowledged, so the server delivers them again after a reconnect). */
function holdingSockets(): { factory: WireSocketFactory; hold: { group: GroupId | undefined } } {
  const hold: { group: GroupId | undefined } = { group: undefined };
  const factory: WireSocketFactory = (url, handlers) =>
    nodeSocketFactory(url, {
      ...handlers,
      onMessage: (data) => {
        const decoded = decodeServerFrame(data);
        if (decoded.ok && decoded.frame.t === 'msg' && decoded.frame.group === hold.group) return;
        handlers.onMessage(data);
      },
    });
  return { factory, hold };
}

/**
 * Writes an archive of `conversations` from `store` (as the approving device
 * would), uploads it as `owner`, lets `tamper` change the uploaded parts or
 * the message, and sends the message in the user's self group.
 */
async function sendCrafted(net: ClientNetwork, owner: User, store: Store, forDevice: DeviceId, conversations: GroupId[], tamper: (m: HistoryArchiveMessage) => HistoryArchiveMessage): Promise<HistoryArchiveMessage> {
  const account = await new ClientRepository(store).account();
  assert.ok(account);
  const api = new HttpApi(net.url);
  api.token = account.token;
  const written = await writeArchive({
    store,
    conversations: conversations.map((id) => ({ id, readSeq: 0 })),
    scope: 'all',
    now: Date.now(),
    partBytes: 1024,
    upload: async (digest, bytes) => {
      await api.putBlob(digest, bytes);
    },
    isClosed: () => false,
  });
  const message = tamper({ kind: 'history_archive', archiveId: toBase64Url(crypto.getRandomValues(new Uint8Array(16))), forDevice, format: 1, ...written });
  await owner.client.testing.sendPlaintext(selfGroupId(account.userId), encodeSelfMessage(message));
  return message;
}

/** The file the server keeps a blob in (the filesystem blob store names files by digest). */
function blobFile(root: string, digest: BlobDigest): string {
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (entry === digest) return path;
    if (statSync(path).isDirectory()) {
      try {
        return blobFile(path, digest);
      } catch {
        // not in this directory
      }
    }
  }
  throw new Error(`no file for blob ${digest}`);
}

async function conversationWithHistory(net: ClientNetwork): Promise<{ alice: User; aliceStore: MemoryStore; bob: User; id: GroupId; image: Uint8Array }> {
  const aliceStore = new MemoryStore();
  const alice = await net.user(undefined, { store: aliceStore });
  const bob = await net.user();
  const conv = await alice.client.createConversation([bob.name]);
  await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
  await alice.client.send(conv.id, 'hello bob');
  const fromBob = await bob.client.send(conv.id, 'hi alice');
  const edited = await alice.client.send(conv.id, 'typo hre');
  const removed = await bob.client.send(conv.id, 'to be deleted');
  // Random bytes do not compress: with small parts, the archive takes several blobs.
  const image = crypto.getRandomValues(new Uint8Array(6_000));
  const photo = await alice.client.send(conv.id, { attachment: image, mimeType: 'image/png', fileName: 'cat.png', caption: 'a cat' });
  await alice.client.editMessage(conv.id, edited, 'typo here');
  await alice.client.react(conv.id, fromBob, '👍');
  await bob.client.deleteForEveryone(conv.id, removed);
  await waitFor(async () => (await view(alice.client, conv.id)).length === 5 && (await alice.client.messages(conv.id)).some((m) => m.content.type === 'deleted'), 'alice has it all');
  assert.deepEqual(await alice.client.mediaUsage(), { bytes: image.length, files: 1 }, 'the sender keeps its photo');
  const last = (await alice.client.messages(conv.id)).at(-1);
  assert.ok(last);
  await alice.client.markRead(conv.id, last.seq);
  assert.ok(photo.content.type === 'attachment');
  return { alice, aliceStore, bob, id: conv.id, image };
}

describe('client: history on a newly linked device', () => {
  it("'all': messages with their edits, reactions and deletions, read state and the media kept on the approving device arrive, in one import", async () => {
    await using net = await ClientNetwork.start();
    const { alice, bob, id, image } = await conversationWithHistory(net);
    const before = await view(alice.client, id);
    const fresh = await newDevice(net);
    await link(alice, fresh.client, 'all');
    await waitFor(() => fresh.events.some((e) => e.state === 'imported' || e.state === 'failed'), 'the import ends', 30_000);
    // (An archive that arrives before a conversation's Welcome says so in between: see the last test.)
    assert.deepEqual(
      fresh.events.filter((e) => e.waitingFor === undefined),
      [{ state: 'importing' }, { state: 'imported', messages: 5 }],
    );
    assert.deepEqual(await view(fresh.client, id), before, 'the same history, edits, reactions and deletion included');
    assert.ok((await fresh.client.messages(id)).every((m) => !m.outgoing), "alice's other device's messages are not this device's own");
    assert.deepEqual(await fresh.client.mediaUsage(), { bytes: image.length, files: 1 }, 'the kept photo came in the archive');
    const photo = (await fresh.client.messages(id)).find((m) => m.content.type === 'attachment');
    assert.ok(photo);
    assert.deepEqual(await fresh.client.attachment(photo), image);
    const summary = (await fresh.client.conversationSummaries()).find((c) => c.id === id);
    assert.equal(summary?.unread, 0, 'read on the approving device: read here');
    // The conversation goes on, on the new device too.
    await bob.client.send(id, 'after the transfer');
    await waitFor(async () => (await texts(fresh.client, id)).at(-1) === 'after the transfer', 'the new device reads new messages');
    assert.equal((await texts(fresh.client, id)).length, 6);
  });

  it("'none' (the default) sends nothing; 'month' only what was received in the last 30 days; another device ignores an archive not for it", async () => {
    await using net = await ClientNetwork.start();
    const aliceStore = new MemoryStore();
    const alice = await net.user(undefined, { store: aliceStore });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    for (const text of ['old one', 'old two', 'recent one', 'recent two']) await alice.client.send(conv.id, text);
    // The first two were received 40 days ago, as far as alice's store knows.
    for (const row of await aliceStore.list('messages', { prefix: `${conv.id}/` })) {
      const record = JSON.parse(row.value) as { receivedAt: number; content?: string };
      const text = record.content === undefined ? '' : new TextDecoder().decode(Buffer.from(record.content, 'base64url'));
      if (text.includes('old ')) await aliceStore.write([{ type: 'put', table: 'messages', key: row.key, value: JSON.stringify({ ...record, receivedAt: Date.now() - 40 * DAY_MS }) }]);
    }

    // 'none' (the default): nothing from before.
    const none = await newDevice(net);
    await link(alice, none.client);
    await waitFor(async () => (await none.client.conversations()).some((c) => c.id === conv.id), 'the new device is added');
    await waitFor(() => inSelfGroup(none.client, alice.client), 'and has the account key');
    await bob.client.send(conv.id, 'after linking');
    await waitFor(async () => (await texts(none.client, conv.id)).includes('after linking'), 'it reads new messages');
    assert.deepEqual(await texts(none.client, conv.id), ['after linking'], 'nothing from before');

    // 'month': the last 30 days by when alice's device received them.
    const month = await newDevice(net);
    await link(alice, month.client, 'month');
    await waitFor(() => month.events.some((e) => e.state !== 'importing'), 'the import ends', 30_000);
    assert.deepEqual(
      month.events.filter((e) => e.waitingFor === undefined),
      [{ state: 'importing' }, { state: 'imported', messages: 3 }],
    );
    assert.deepEqual(await texts(month.client, conv.id), ['recent one', 'recent two', 'after linking']);

    // The 'none' device got the archive's message too (the self group) and ignored it: a later self message (preferences) shows it was processed.
    await alice.client.setConversationPrefs(conv.id, { pinned: true });
    await waitFor(async () => (await none.client.conversation(conv.id)).pinned, 'the none device processed the self group past the archive');
    assert.deepEqual(none.events, []);
    assert.deepEqual(await texts(none.client, conv.id), ['after linking']);
    assert.deepEqual(await none.store.list('meta', { prefix: 'history/' }), []);
  });

  it('the approving device closes right after approving: started again from its store, it still sends the history', async () => {
    await using net = await ClientNetwork.start();
    const aliceStore = new MemoryStore();
    const alice = await net.user(undefined, { store: aliceStore });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await bob.client.send(conv.id, 'before the restart');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 1, 'alice has it');

    const fresh = await newDevice(net);
    const pending = await fresh.client.linkDevice(alice.name, alice.password);
    await alice.client.approveLink(pending.uri, { history: 'all' });
    // Closed before the new device could even be added (it has not seen its approval yet).
    await alice.client.close();
    assert.equal((await aliceStore.list('meta', { prefix: 'history/outgoing/' })).length, 1, 'the promise is stored');
    await pending.approved;

    await net.client({ store: aliceStore });
    await waitFor(() => fresh.events.some((e) => e.state === 'imported' || e.state === 'failed'), 'the import ends', 30_000);
    assert.deepEqual(fresh.events.at(-1), { state: 'imported', messages: 1 });
    assert.deepEqual(await texts(fresh.client, conv.id), ['before the restart']);
    await waitFor(async () => (await aliceStore.list('meta', { prefix: 'history/outgoing/' })).length === 0, 'the promise is kept no longer');
  });

  it('a server with a smaller blob limit than the part size: the approving device sends smaller parts', async () => {
    await using net = await ClientNetwork.start({ config: { maxBlobBytes: 4096 } });
    const alice = await net.user(undefined, { historyPartBytes: 64 * 1024 });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    // Random text does not compress: the archive needs several 4 KiB blobs.
    for (let i = 0; i < 4; i++) await bob.client.send(conv.id, toBase64Url(crypto.getRandomValues(new Uint8Array(2_000))));
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 4, 'alice has them');
    const fresh = await newDevice(net);
    await link(alice, fresh.client, 'all');
    await waitFor(() => fresh.events.some((e) => e.state === 'imported' || e.state === 'failed'), 'the import ends', 30_000);
    assert.deepEqual(fresh.events.at(-1), { state: 'imported', messages: 4 });
    assert.deepEqual(await texts(fresh.client, conv.id), await texts(alice.client, conv.id));
    assert.deepEqual(net.errorsOf(alice.client).filter((e) => e.code === 'history'), []);
  });

  it('the server holds nothing of the transferred history in clear (files and logs)', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    const said = marker('histtext');
    const named = marker('histfile');
    const inFile = marker('histbytes');
    await bob.client.send(conv.id, `before linking: ${said}`);
    await alice.client.send(conv.id, { attachment: new TextEncoder().encode(`file ${inFile} file`), mimeType: 'text/plain', fileName: `${named}.txt` });
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 2, 'alice has both');
    const fresh = await newDevice(net);
    await link(alice, fresh.client, 'all');
    await waitFor(() => fresh.events.some((e) => e.state === 'imported' || e.state === 'failed'), 'the import ends', 30_000);
    assert.deepEqual(fresh.events.at(-1), { state: 'imported', messages: 2 });
    assert.deepEqual(await fresh.client.mediaUsage(), { bytes: `file ${inFile} file`.length, files: 1 });
    const haystacks = [...filesUnder(net.server.dataDir).map((f) => ({ where: f, bytes: readFileSync(f) })), { where: 'server log', bytes: Buffer.from(net.server.logs.join('\n'), 'utf8') }];
    for (const m of [said, named, inFile]) {
      for (const n of needles(m)) {
        for (const h of haystacks) assert.ok(!h.bytes.includes(n.bytes), `${m} (${n.how}) found in ${h.where}`);
      }
    }
  });

  it('a part whose bytes do not match its digest, or a wrong key: failed, and nothing stored', async () => {
    await using net = await ClientNetwork.start();
    const { alice, aliceStore, id } = await conversationWithHistory(net);
    const fresh = await newDevice(net);
    await link(alice, fresh.client);
    await waitFor(async () => (await fresh.client.conversations()).some((c) => c.id === id), 'the new device is added');
    await waitFor(() => inSelfGroup(fresh.client, alice.client), 'and has the account key');
    const messagesBefore = await table(fresh.store, 'messages');
    const mediaBefore = await table(fresh.store, 'media');
    const freshId = fresh.client.deviceId;
    assert.ok(freshId);

    // The server (or its disk) hands out other bytes for the second part.
    await sendCrafted(net, alice, aliceStore, freshId, [id], (m) => {
      const part = m.blobs[1];
      assert.ok(part, 'several parts');
      const file = blobFile(net.server.dataDir, part.digest);
      const bytes = readFileSync(file);
      bytes[10] = (bytes[10] ?? 0) ^ 0xff;
      writeFileSync(file, bytes);
      return m;
    });
    await waitFor(() => fresh.events.some((e) => e.state === 'failed'), 'the import fails');
    assert.deepEqual(fresh.events, [{ state: 'importing' }, { state: 'failed', reason: 'digest_mismatch' }]);

    // The right bytes under another key.
    await sendCrafted(net, alice, aliceStore, freshId, [id], (m) => ({ ...m, key: toBase64Url(crypto.getRandomValues(new Uint8Array(32))) }));
    await waitFor(() => fresh.events.filter((e) => e.state === 'failed').length === 2, 'the second import fails');
    assert.deepEqual(fresh.events.slice(2), [{ state: 'importing' }, { state: 'failed', reason: 'decrypt_failed' }]);

    // A plaintext hash that is not the archive's.
    await sendCrafted(net, alice, aliceStore, freshId, [id], (m) => ({ ...m, sha256: '0'.repeat(64) }));
    await waitFor(() => fresh.events.filter((e) => e.state === 'failed').length === 3, 'the third import fails');
    assert.deepEqual(fresh.events.slice(4), [{ state: 'importing' }, { state: 'failed', reason: 'hash_mismatch' }]);

    assert.deepEqual(await table(fresh.store, 'messages'), messagesBefore, 'no message stored');
    assert.deepEqual(await table(fresh.store, 'media'), mediaBefore, 'no media stored');
    assert.deepEqual(await fresh.store.list('meta', { prefix: 'history/' }), [], 'no archive left pending');
    assert.deepEqual(await texts(fresh.client, id), []);

    // The archive as sent: imported.
    await sendCrafted(net, alice, aliceStore, freshId, [id], (m) => m);
    await waitFor(() => fresh.events.some((e) => e.state === 'imported'), 'the import succeeds');
    assert.equal((await texts(fresh.client, id)).length, 5);
  });

  it("an archive naming a conversation whose Welcome has not arrived waits for it, then imports", async () => {
    await using net = await ClientNetwork.start();
    const aliceStore = new MemoryStore();
    const alice = await net.user(undefined, { store: aliceStore });
    const bob = await net.user();
    const first = await alice.client.createConversation([bob.name]);
    const second = await alice.client.createConversation([bob.name], { title: 'second' });
    await waitFor(async () => (await bob.client.conversations()).length === 2, 'bob joins both');
    await alice.client.send(first.id, 'in the first');
    await bob.client.send(second.id, 'in the second');
    await waitFor(async () => (await texts(alice.client, second.id)).length === 1, 'alice has both');

    const sockets = holdingSockets();
    sockets.hold.group = second.id;
    const fresh = await newDevice(net, { webSocket: sockets.factory });
    await link(alice, fresh.client, 'all');
    await waitFor(() => fresh.events.some((e) => e.waitingFor !== undefined), 'the archive waits', 30_000);
    assert.deepEqual(fresh.events, [{ state: 'importing' }, { state: 'importing', waitingFor: 1 }]);
    assert.ok(!(await fresh.client.conversations()).some((c) => c.id === second.id), 'the second conversation is not here yet');
    assert.deepEqual(await texts(fresh.client, first.id), [], 'nothing imported meanwhile');
    assert.equal((await fresh.store.list('meta', { prefix: 'history/pending/' })).length, 1, 'the archive is kept until imported');

    // Its Welcome arrives (delivered again after a reconnect).
    sockets.hold.group = undefined;
    fresh.client.testing.dropConnection();
    await waitFor(() => fresh.events.some((e) => e.state === 'imported' || e.state === 'failed'), 'the import ends', 30_000);
    assert.deepEqual(fresh.events.at(-1), { state: 'imported', messages: 2 });
    assert.deepEqual(await texts(fresh.client, first.id), ['in the first']);
    assert.deepEqual(await texts(fresh.client, second.id), ['in the second']);
    assert.deepEqual(await fresh.store.list('meta', { prefix: 'history/pending/' }), []);
  });
});
