import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EDIT_WINDOW_MS, DELETE_WINDOW_MS, encodeContent, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { MemoryStore } from '../src/index.js';
import type { GroupId, Message, ParleyClient } from '../src/index.js';
import { SqliteStore } from '../src/node.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';
import { RecordingSockets } from './helpers/sockets.js';

type Target = { seq: number; id: string };
const target = (m: Message): Target => ({ seq: m.seq, id: m.id });

async function messageAt(client: ParleyClient, conv: GroupId, seq: number): Promise<Message | undefined> {
  return (await client.message(conv, seq)) ?? undefined;
}

function reactionsOf(m: Message | undefined): Array<[string, number, boolean]> {
  return (m?.reactions ?? []).map((r) => [r.emoji, r.users.length, r.mine]);
}

function isClientError(code: string) {
  return (err: unknown) => (err as { name?: string; code?: string }).name === 'ClientError' && (err as { code?: string }).code === code;
}

/** Every `message` event per seq. */
function events(client: ParleyClient): Map<number, Message[]> {
  const seen = new Map<number, Message[]>();
  client.on('message', (m) => seen.set(m.seq, [...(seen.get(m.seq) ?? []), m]));
  return seen;
}

describe('client: replies, reactions, edits, deletes', () => {
  it('replies quote a message; reactions are one per person, changeable and removable, on every device', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const phone = await net.device(alice);
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1 && (await phone.conversations()).length === 1, 'everyone joins');
    const bobEvents = events(bob.client);

    const question = await alice.client.send(conv.id, 'lunch at noon?');
    assert.equal(question.replyTo, null);
    assert.deepEqual([question.reactions, question.editedAt, question.deleted], [[], null, false]);
    await waitFor(async () => messageAt(bob.client, conv.id, question.seq), 'bob has it');
    const answer = await bob.client.send(conv.id, 'yes!', { replyTo: target(question) });
    assert.deepEqual(answer.replyTo, { seq: question.seq, id: question.id, available: true, sender: { userId: alice.client.userId, username: alice.name }, preview: 'lunch at noon?' });
    for (const c of [alice.client, phone]) {
      const got = await waitFor(async () => messageAt(c, conv.id, answer.seq), 'the reply arrives');
      assert.deepEqual(got.replyTo, answer.replyTo);
      assert.equal(got.content.type === 'text' && got.content.replyTo?.id, question.id);
    }
    const photo = await alice.client.send(conv.id, { attachment: new Uint8Array([1, 2, 3]), mimeType: 'image/png', fileName: 'p.png' });
    await waitFor(async () => messageAt(bob.client, conv.id, photo.seq), 'bob has the photo');
    assert.equal((await bob.client.send(conv.id, 'nice', { replyTo: target(photo) })).replyTo?.preview, 'Photo');
    // A quote must name a message this device has, with its id.
    await assert.rejects(bob.client.send(conv.id, 'x', { replyTo: { seq: question.seq, id: newContentId() } }), isClientError('bad_request'));
    await assert.rejects(bob.client.send(conv.id, 'x', { replyTo: { seq: 9999, id: question.id } }), isClientError('bad_request'));

    // Reactions.
    const r1 = await bob.client.react(conv.id, target(question), '👍');
    assert.deepEqual(reactionsOf(r1), [['👍', 1, true]]);
    await waitFor(async () => reactionsOf(await messageAt(alice.client, conv.id, question.seq)).length === 1, 'alice sees the reaction');
    assert.deepEqual(reactionsOf(await messageAt(alice.client, conv.id, question.seq)), [['👍', 1, false]]);
    await alice.client.react(conv.id, target(question), '👍');
    await waitFor(async () => reactionsOf(await messageAt(bob.client, conv.id, question.seq))[0]?.[1] === 2, 'two people, one emoji');
    // Bob changes his mind: his 👍 becomes ❤️ (one reaction per person).
    await bob.client.react(conv.id, target(question), '❤️');
    const expectOnAlice = [['👍', 1, true], ['❤️', 1, false]];
    await waitFor(async () => JSON.stringify(reactionsOf(await messageAt(alice.client, conv.id, question.seq))) === JSON.stringify(expectOnAlice), 'bob changed his reaction');
    // Alice's phone reacts too: it is the same person, so it replaces her 👍 everywhere.
    await phone.react(conv.id, target(question), '😂');
    for (const [c, mine] of [[bob.client, false], [alice.client, true], [phone, true]] as const) {
      await waitFor(async () => {
        const m = await messageAt(c, conv.id, question.seq);
        const rs = (m?.reactions ?? []).map((r) => `${r.emoji}:${r.users.map((u) => u.username).join(',')}:${r.mine}`);
        return JSON.stringify(rs) === JSON.stringify([`❤️:${bob.name}:${!mine}`, `😂:${alice.name}:${mine}`]);
      }, 'the phone replaced alice\'s reaction');
    }
    // Removing.
    await bob.client.react(conv.id, target(question), null);
    await waitFor(async () => JSON.stringify(reactionsOf(await messageAt(phone, conv.id, question.seq))) === JSON.stringify([['😂', 1, true]]), 'bob removed his');
    await assert.rejects(bob.client.react(conv.id, target(question), 'like'), isClientError('bad_request'));
    await assert.rejects(bob.client.react(conv.id, target(question), '👍👍'), isClientError('bad_request'));
    // Each change was emitted again for the same seq.
    assert.ok((bobEvents.get(question.seq)?.length ?? 0) >= 4, 'message events for each change');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('edits: own text and captions, the latest wins on every device; deletes for everyone remove the content everywhere', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const bobStore = new MemoryStore();
    const bob2 = await net.device(bob, { store: bobStore });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1 && (await bob2.conversations()).length === 1, 'join');
    const typo = await bob.client.send(conv.id, 'see you at 12:30 at the cafe');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 1 && (await texts(bob2, conv.id)).length === 1, 'delivered');

    const edited = await bob.client.editMessage(conv.id, target(typo), 'see you at 13:00 at the café');
    assert.equal(edited.content.type === 'text' && edited.content.text, 'see you at 13:00 at the café');
    assert.ok(edited.editedAt !== null && edited.editedAt >= typo.sentAt);
    // The other device edits again: the latest (highest seq) wins everywhere.
    await waitFor(async () => (await texts(bob2, conv.id))[0] === 'see you at 13:00 at the café', 'bob2 has the first edit');
    await bob2.editMessage(conv.id, target(typo), 'see you at 13:15');
    for (const c of [alice.client, bob.client, bob2]) await waitFor(async () => (await texts(c, conv.id))[0] === 'see you at 13:15', 'latest edit everywhere');
    const decodedValues = (await bobStore.list('messages')).map((r) => Buffer.from((JSON.parse(r.value) as { content?: string }).content ?? '', 'base64url').toString('utf8'));
    assert.ok(decodedValues.some((v) => v.includes('see you at 13:15')) && !decodedValues.some((v) => v.includes('12:30') || v.includes('13:00 at the café')), 'the replaced texts are gone from the store');
    const seen = await messageAt(alice.client, conv.id, typo.seq);
    assert.equal(seen?.id, typo.id, 'the id stays');
    assert.ok(seen?.editedAt);
    // Not someone else's message.
    await assert.rejects(alice.client.editMessage(conv.id, target(typo), 'mine now'), isClientError('bad_request'));

    // A caption is edited the same way.
    const photo = await bob.client.send(conv.id, { attachment: new Uint8Array([9, 9, 9]), mimeType: 'image/jpeg', fileName: 'a.jpg', caption: 'teh view' });
    await bob.client.editMessage(conv.id, target(photo), 'the view');
    await waitFor(async () => {
      const m = await messageAt(alice.client, conv.id, photo.seq);
      return m?.content.type === 'attachment' && m.content.caption === 'the view' && m.editedAt !== null;
    }, 'caption edited');

    // Delete for everyone, with a reaction and a reply on it.
    const secret = `delete-me-${newContentId()}`;
    const oops = await bob.client.send(conv.id, secret);
    await waitFor(async () => messageAt(alice.client, conv.id, oops.seq), 'alice has it');
    await alice.client.react(conv.id, target(oops), '😮');
    const reply = await alice.client.send(conv.id, 'what?', { replyTo: target(oops) });
    await waitFor(async () => (await messageAt(bob2, conv.id, reply.seq))?.replyTo?.available, 'bob2 has the reply');
    await waitFor(async () => reactionsOf(await messageAt(bob.client, conv.id, oops.seq)).length === 1, 'bob sees the reaction');
    await assert.rejects(alice.client.deleteForEveryone(conv.id, target(oops)), isClientError('bad_request'), 'not hers');
    const quoteEvents: Message[] = [];
    alice.client.on('message', (m) => {
      if (m.seq === reply.seq) quoteEvents.push(m);
    });
    const gone = await bob.client.deleteForEveryone(conv.id, target(oops));
    assert.equal(gone.deleted, true);
    for (const c of [alice.client, bob.client, bob2]) {
      const m = await waitFor(async () => {
        const got = await messageAt(c, conv.id, oops.seq);
        return got?.deleted === true ? got : undefined;
      }, 'deleted everywhere');
      assert.equal(m.content.type, 'deleted');
      assert.deepEqual(m.content, { type: 'deleted', v: 1, id: oops.id, sentAt: oops.sentAt, deletedAt: (m.content as { deletedAt: number }).deletedAt });
      assert.deepEqual(m.reactions, []);
      assert.equal(m.editedAt, null);
      const quoting = await messageAt(c, conv.id, reply.seq);
      assert.deepEqual(quoting?.replyTo, { seq: oops.seq, id: oops.id, available: false, sender: null, preview: null });
    }
    await waitFor(() => quoteEvents.some((m) => m.replyTo?.available === false), 'the quoting message is emitted again, its quote unavailable');
    // The plaintext is gone from the sender's other device's store (not only hidden).
    const raw = await bobStore.list('messages');
    assert.ok(!raw.some((r) => r.value.includes(secret)), 'no plain copy');
    const record = raw.find((r) => (JSON.parse(r.value) as { seq: number }).seq === oops.seq);
    assert.ok(record !== undefined && !('content' in (JSON.parse(record.value) as object)), 'the content bytes are gone');
    await assert.rejects(bob.client.editMessage(conv.id, target(oops), 'undo'), isClientError('bad_request'));
    await assert.rejects(bob.client.react(conv.id, target(oops), '👍'), isClientError('bad_request'));
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('ignores changes naming missing messages or ones the sender may not change, with invalid_change, and changes nothing', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const a1 = await alice.client.send(conv.id, 'alice one');
    const a2 = await alice.client.send(conv.id, 'alice two');
    const b1 = await bob.client.send(conv.id, 'bob one');
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 3 && (await texts(bob.client, conv.id)).length === 3, 'all delivered');
    await alice.client.deleteForEveryone(conv.id, target(a2));
    await waitFor(async () => (await messageAt(bob.client, conv.id, a2.seq))?.deleted, 'a2 deleted on bob');
    const before = JSON.stringify(await bob.client.messages(conv.id));

    const at = (sentAt: number) => ({ v: 1 as const, id: newContentId(), sentAt });
    const now = Date.now();
    const send = (c: ParleyClient, content: MessageContent) => c.testing.sendPlaintext(conv.id, encodeContent(content));
    const bad: Array<[ParleyClient, MessageContent]> = [
      // Naming a message that does not exist (seq 1 is the conversation's first commit).
      [alice.client, { ...at(now), type: 'reaction', target: { seq: 1, id: newContentId() }, emoji: '👍' }],
      [alice.client, { ...at(now), type: 'reaction', target: { seq: 10_000, id: b1.id }, emoji: '👍' }],
      // The right seq, another content id.
      [alice.client, { ...at(now), type: 'reaction', target: { seq: b1.seq, id: newContentId() }, emoji: '👍' }],
      [alice.client, { ...at(now), type: 'edit', target: { seq: a1.seq, id: b1.id }, text: 'swapped' }],
      // Someone else's message.
      [alice.client, { ...at(now), type: 'edit', target: target(b1), text: 'not yours' }],
      [alice.client, { ...at(now), type: 'delete', target: target(b1) }],
      // Past the time limits (the sender's clock).
      [alice.client, { ...at(a1.sentAt + EDIT_WINDOW_MS + 1), type: 'edit', target: target(a1), text: 'too late' }],
      [alice.client, { ...at(a1.sentAt + DELETE_WINDOW_MS + 1), type: 'delete', target: target(a1) }],
      // An already deleted message.
      [alice.client, { ...at(now), type: 'edit', target: target(a2), text: 'back' }],
      [alice.client, { ...at(now), type: 'reaction', target: target(a2), emoji: '👍' }],
      [alice.client, { ...at(now), type: 'delete', target: target(a2) }],
    ];
    for (const [c, content] of bad) await send(c, content);
    await alice.client.send(conv.id, 'still fine');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('still fine'), 'the conversation goes on');
    const errors = net.errorsOf(bob.client);
    assert.equal(errors.length, bad.length, JSON.stringify(errors.map((e) => e.error.message)));
    assert.ok(errors.every((e) => e.code === 'invalid_change' && e.conversationId === conv.id && typeof e.seq === 'number'));
    assert.ok(errors.every((e) => !e.error.message.includes('not yours') && !e.error.message.includes('alice one')), 'no content in error messages');
    const after = (await bob.client.messages(conv.id)).filter((m) => m.seq < a2.seq + 2);
    assert.equal(JSON.stringify(after), before, 'nothing changed');
    assert.deepEqual(net.errorsOf(alice.client), []);
  });

  it('a send whose reply was lost is matched when its copy comes back; Retry yields exactly one message on both sides', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const states: string[] = [];
    alice.client.on('connection', (e) => states.push(e.state));
    const aliceEvents = events(alice.client);

    sockets.dropNextReply();
    let contentId = '';
    await assert.rejects(alice.client.send(conv.id, 'did this arrive?'), (err: { code?: string; detail?: Record<string, unknown> }) => {
      contentId = String(err.detail?.['contentId']);
      return err.code === 'disconnected' && err.detail?.['delivery'] === 'unknown';
    });
    assert.match(contentId, /^[A-Za-z0-9_-]{22}$/);
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('did this arrive?'), 'it reached bob');
    // Alice reconnects: her copy comes back and is stored as her own message.
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('did this arrive?'), 'alice has her own copy back');
    const [mine] = await alice.client.messages(conv.id);
    assert.ok(mine?.outgoing && mine.id === contentId);
    assert.equal(aliceEvents.get(mine.seq)?.length, 1, 'emitted once');
    // Retry: no second copy.
    const retried = await alice.client.send(conv.id, 'did this arrive?', { retryOf: contentId });
    assert.equal(retried.seq, mine.seq);
    await alice.client.send(conv.id, 'next');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('next'), 'bob reads on');
    assert.deepEqual(await texts(bob.client, conv.id), ['did this arrive?', 'next']);
    assert.deepEqual(await texts(alice.client, conv.id), ['did this arrive?', 'next']);

    // A retry of something that never left sends it, under the same id.
    const fresh = newContentId();
    const sent = await alice.client.send(conv.id, 'first try never left', { retryOf: fresh });
    assert.equal(sent.id, fresh);
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('first try never left'), 'sent');
    assert.equal((await bob.client.messages(conv.id)).filter((m) => m.id === fresh).length, 1);
    assert.ok(states.includes('synced'), 'alice reconnected');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a lost reply in a busy conversation (others wrote after it before the sender reconnected) is matched in the gap', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory });
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    await alice.client.send(conv.id, 'first');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('first'), 'bob has it');
    await new Promise((r) => setTimeout(r, 1_500)); // receipts settle
    sockets.dropNextReply();
    let contentId = '';
    await assert.rejects(alice.client.send(conv.id, 'lost in the crowd'), (err: { code?: string; detail?: Record<string, unknown> }) => {
      contentId = String(err.detail?.['contentId']);
      return err.code === 'disconnected' && err.detail?.['delivery'] === 'unknown';
    });
    // She stays away while bob (and his receipt) write after her message.
    sockets.setOffline(true);
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('lost in the crowd'), 'it reached bob');
    await bob.client.send(conv.id, 'meanwhile');
    sockets.setOffline(false);
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('meanwhile'), 'alice is back');
    assert.deepEqual(await texts(alice.client, conv.id), ['first', 'lost in the crowd', 'meanwhile']);
    const retried = await alice.client.send(conv.id, 'lost in the crowd', { retryOf: contentId });
    assert.equal(retried.id, contentId);
    await alice.client.send(conv.id, 'done');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('done'), 'bob reads on');
    assert.deepEqual(await texts(bob.client, conv.id), ['first', 'lost in the crowd', 'meanwhile', 'done']);
    assert.deepEqual(await texts(alice.client, conv.id), ['first', 'lost in the crowd', 'meanwhile', 'done']);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a lost reply whose copy the server delivers back (the sender had not acknowledged everything) is matched by its ciphertext', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const alice = await net.user(undefined, { webSocket: sockets.factory });
    const bob = await net.user();
    // Alice is bob's contact: no request, whose accept (bob's reply) would send his profile key into the window below.
    await bob.client.contacts.add(alice.name);
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    // Alice's acknowledgement of bob's message never leaves: the server then does not move her cursor past her own next message.
    sockets.hold('ack');
    await bob.client.send(conv.id, 'ping');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('ping'), 'alice has it');
    await new Promise((r) => setTimeout(r, 1_500)); // her ack is held, her receipt went out
    sockets.dropNextReply();
    let contentId = '';
    await assert.rejects(alice.client.send(conv.id, 'echoed back'), (err: { code?: string; detail?: Record<string, unknown> }) => {
      contentId = String(err.detail?.['contentId']);
      return err.code === 'disconnected' && err.detail?.['delivery'] === 'unknown';
    });
    sockets.release();
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('echoed back'), 'her copy came back and was matched');
    const retried = await alice.client.send(conv.id, 'echoed back', { retryOf: contentId });
    assert.equal(retried.id, contentId);
    assert.ok(sockets.received.some((f) => f.t === 'msg' && f.seq === retried.seq), 'the server delivered her own message back');
    await alice.client.send(conv.id, 'done');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('done'), 'bob reads on');
    assert.deepEqual(await texts(bob.client, conv.id), ['ping', 'echoed back', 'done']);
    assert.deepEqual(await texts(alice.client, conv.id), ['ping', 'echoed back', 'done']);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('drops a second copy of a send under the same content id from the same user (a retry whose first copy got through)', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const content: MessageContent = { v: 1, id: newContentId(), sentAt: Date.now(), type: 'text', text: 'only once' };
    await alice.client.testing.sendPlaintext(conv.id, encodeContent(content));
    await alice.client.testing.sendPlaintext(conv.id, encodeContent({ ...content, sentAt: content.sentAt + 1 }));
    // The same id from another user is another message.
    await bob.client.testing.sendPlaintext(conv.id, encodeContent(content));
    await alice.client.send(conv.id, 'after');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('after'), 'bob reads on');
    assert.deepEqual(await texts(bob.client, conv.id), ['only once', 'after']);
    await waitFor(async () => (await texts(alice.client, conv.id)).length === 2, 'alice has bob\'s');
    assert.deepEqual(await texts(alice.client, conv.id), ['only once', 'after'], "alice stores bob's copy (her own sendPlaintext is not a history entry here)");
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('keeps reactions, edits, deletes and replies across a restart from SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-changes-'));
    try {
      await using net = await ClientNetwork.start();
      const alice = await net.user();
      const store = SqliteStore.open(join(dir, 'bob.db'));
      const bob = await net.user(undefined, { store });
      const conv = await alice.client.createConversation([bob.name]);
      await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
      const m1 = await alice.client.send(conv.id, 'first');
      const m2 = await alice.client.send(conv.id, 'second');
      await waitFor(async () => (await texts(bob.client, conv.id)).length === 2, 'delivered');
      await bob.client.react(conv.id, target(m1), '🎉');
      await alice.client.editMessage(conv.id, target(m1), 'first (edited)');
      await alice.client.deleteForEveryone(conv.id, target(m2));
      const reply = await bob.client.send(conv.id, 're', { replyTo: target(m1) });
      await waitFor(async () => (await messageAt(bob.client, conv.id, m2.seq))?.deleted && (await texts(bob.client, conv.id))[0] === 'first (edited)', 'changes applied');
      const before = JSON.stringify(await bob.client.messages(conv.id));
      await bob.client.close();
      store.close();

      const store2 = SqliteStore.open(join(dir, 'bob.db'));
      const again = await net.client({ store: store2 });
      await again.whenSynced();
      assert.equal(JSON.stringify(await again.messages(conv.id)), before);
      const m = await messageAt(again, conv.id, m1.seq);
      assert.deepEqual(reactionsOf(m), [['🎉', 1, true]]);
      assert.equal((await messageAt(again, conv.id, reply.seq))?.replyTo?.preview, 'first (edited)');
      await again.close();
      store2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
