import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientError, MemoryStore } from '../src/index.js';
import type { GroupId, Message, ParleyClient, SearchResult } from '../src/index.js';
import { decodeAscending } from '../src/search/codec.js';
import { PENDING_PREFIX, POSTING_BLOCK_BITS, POSTING_PREFIX } from '../src/search/search-index.js';
import { indexTerms } from '../src/search/tokenize.js';
import { ClientNetwork, waitFor } from './helpers/network.js';

const FIVE_MINUTES = 5 * 60_000;
const seqs = (rs: readonly SearchResult[]): number[] => rs.map((r) => r.seq);
const marked = (r: SearchResult | undefined): string[] => (r?.matches ?? []).map((m) => r?.snippet.slice(m.start, m.end) ?? '');

/** The term rows of the index (pending ones as `si/<term>/pending`), and how many (term, message) postings they hold in all. */
async function termRows(store: MemoryStore): Promise<{ keys: string[]; postings: number }> {
  const rows = await store.list('meta', { prefix: POSTING_PREFIX });
  let postings = 0;
  for (const r of rows) {
    const block = parseInt(r.key.slice(r.key.lastIndexOf('/') + 1), 36);
    const docs = decodeAscending(r.value, block << POSTING_BLOCK_BITS);
    assert.ok(docs !== undefined && docs.length > 0, `${r.key} holds a non-empty list of documents`);
    postings += docs.length;
  }
  // Entries not yet merged into the term rows: their terms in a pending row each.
  const pending = await store.list('meta', { prefix: PENDING_PREFIX });
  for (const r of pending) postings += r.value.split(' ').length - 1; // the entry, then its terms
  return { keys: [...rows.map((r) => r.key), ...pending.flatMap((r) => r.value.split(' ').slice(1).map((t) => `${POSTING_PREFIX}${t}/pending`))], postings };
}

/** The postings the index must hold for what is stored: the terms of every text and caption, nothing else. */
async function expectedPostings(client: ParleyClient, conversations: readonly GroupId[]): Promise<number> {
  let n = 0;
  for (const id of conversations) {
    for (const m of await client.messages(id, { limit: 500 })) {
      const c = m.content;
      if (c.type === 'text') n += indexTerms(c.text).size;
      if (c.type === 'attachment') n += indexTerms(`${c.caption ?? ''} ${c.fileName}`).size;
    }
  }
  return n;
}

describe('client: search on the device', () => {
  it('finds English, Chinese, Japanese and Arabic words, folds case and diacritics, filters, and follows edits, deletes and expiry', async () => {
    await using net = await ClientNetwork.start();
    const clock = { offset: 0 };
    const now = (): number => Date.now() + clock.offset;
    const store = new MemoryStore();
    const alice = await net.user(undefined, { now });
    const bob = await net.user(undefined, { now, store });
    const carol = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === conv.id && c.kind !== null), 'bob joins');
    await bob.client.requests.accept(conv.id);
    const group = await carol.client.createConversation([bob.name, alice.name], { title: 'team' });
    await waitFor(async () => (await bob.client.conversations()).some((c) => c.id === group.id && c.kind !== null), 'bob joins the group');

    const sent: Message[] = [];
    for (const text of ['Hello world, the meeting is at noon', '我明天去北京大学开会', '東京都に住んでいます', 'مَرْحَبًا بِكُمْ في المدينة', 'Café crème at the Gare du Nord 👍', 'nothing to see']) {
      sent.push(await alice.client.send(conv.id, text));
    }
    const photo = await alice.client.send(conv.id, { attachment: new Uint8Array([1, 2, 3]), mimeType: 'image/png', fileName: 'beach.png', caption: 'Holiday at the sea' });
    const fromCarol = await carol.client.send(group.id, 'hello from the team meeting');
    await waitFor(async () => (await bob.client.message(group.id, fromCarol.seq)) ?? undefined, 'bob has carol’s message');
    await waitFor(async () => (await bob.client.message(conv.id, photo.seq)) ?? undefined, 'bob has alice’s messages');
    const [english, chinese, japanese, arabic, french] = sent as [Message, Message, Message, Message, Message];

    // English: prefix match, case folded, every word must match, newest first, across conversations.
    assert.deepEqual(seqs(await bob.client.search.query('hello')), [fromCarol.seq, english.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('HEL meet')), [fromCarol.seq, english.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('hello noon')), [english.seq]);
    assert.deepEqual(await bob.client.search.query('hello midnight'), []);
    const [hit] = await bob.client.search.query('noon');
    assert.deepEqual({ ...hit, matches: marked(hit) }, { conversationId: conv.id, seq: english.seq, sender: { userId: alice.client.userId, username: alice.name }, sentAt: english.sentAt, snippet: 'Hello world, the meeting is at noon', matches: ['noon'] });

    // Chinese: a two-character word inside a sentence with no spaces, wherever the segmenter put the word boundaries; one character.
    for (const q of ['北京', '大学', '开会', '北京大学', '京大', '明']) assert.deepEqual(seqs(await bob.client.search.query(q)), [chinese.seq], q);
    assert.deepEqual(marked((await bob.client.search.query('大学'))[0]), ['大学']);
    assert.deepEqual(marked((await bob.client.search.query('北京大学'))[0]), ['北京大学']);
    assert.deepEqual(await bob.client.search.query('上海'), []);
    // Japanese.
    assert.deepEqual(seqs(await bob.client.search.query('東京')), [japanese.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('住んで')), [japanese.seq]);
    // Arabic: without the vowel marks, and with the hamza form of alef folded.
    assert.deepEqual(seqs(await bob.client.search.query('مرحبا')), [arabic.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('المدينة')), [arabic.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('أَلمدينة')), [arabic.seq]);
    // Diacritics both ways, and emoji.
    assert.deepEqual(seqs(await bob.client.search.query('cafe creme')), [french.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('CAFÉ')), [french.seq]);
    assert.deepEqual(marked((await bob.client.search.query('creme'))[0]), ['crème']);
    assert.deepEqual(seqs(await bob.client.search.query('👍')), [french.seq]);

    // Filters: a conversation, a sender, attachments (caption and file name), a time bound; bad options are refused, typed.
    assert.deepEqual(seqs(await bob.client.search.query('hello', { conversationId: group.id })), [fromCarol.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('hello', { from: alice.client.userId })), [english.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('holiday', { attachmentsOnly: true })), [photo.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('beach')), [photo.seq]);
    assert.deepEqual(await bob.client.search.query('hello', { attachmentsOnly: true }), []);
    assert.deepEqual(seqs(await bob.client.search.query('hello', { limit: 1 })), [fromCarol.seq]);
    assert.deepEqual(seqs(await bob.client.search.query('hello', { before: fromCarol.sentAt })), [english.seq]);
    for (const bad of [{ limit: 0 }, { conversationId: 'x' }, { unknown: 1 }, { before: -1 }] as const) {
      await assert.rejects(bob.client.search.query('hello', bad as never), (err: unknown) => err instanceof ClientError && err.code === 'bad_request', JSON.stringify(bad));
    }
    assert.deepEqual(await bob.client.search.query(' , . '), []);

    // Edits replace the indexed words; deletes for everyone remove them.
    await alice.client.editMessage(conv.id, { seq: english.seq, id: english.id }, 'Goodbye world');
    await waitFor(async () => (await bob.client.search.query('goodbye')).length === 1, 'the edit is indexed');
    assert.deepEqual(await bob.client.search.query('noon'), []);
    assert.deepEqual(seqs(await bob.client.search.query('world')), [english.seq]);
    await alice.client.deleteForEveryone(conv.id, { seq: chinese.seq, id: chinese.id });
    await waitFor(async () => (await bob.client.search.query('北京')).length === 0, 'the delete leaves the index');

    // Disappearing messages leave the index when they expire.
    await bob.client.setDisappearing(conv.id, FIVE_MINUTES);
    const secret = await alice.client.send(conv.id, 'the vault code is zebra');
    await waitFor(async () => (await bob.client.search.query('zebra')).length === 1, 'bob indexed the secret');
    clock.offset += FIVE_MINUTES + 1_000;
    await bob.client.testing.expireNow();
    assert.equal((await bob.client.message(conv.id, secret.seq)) ?? undefined, undefined, 'expired');
    assert.deepEqual(await bob.client.search.query('zebra'), []);

    // The index holds no more than it must: one posting per distinct term of each text or caption stored, and no text.
    const { keys, postings } = await termRows(store);
    assert.equal(postings, await expectedPostings(bob.client, [conv.id, group.id]));
    assert.ok(keys.every((k) => /^si\/[A-Za-z0-9^_-]+\/([0-9a-z]+|pending)$/.test(k)), 'term and block of documents — nothing else in a key');
    assert.ok(!keys.some((k) => k.includes('zebra') || k.includes('noon')), 'nothing of an expired or edited-away text');
  });
});
