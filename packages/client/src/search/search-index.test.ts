import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { MemoryStore } from '../store/memory-store.js';
import { ClientRepository, StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import type { StoreEntry, StoreListOptions, StoreTable, StoreWrite } from '../store/store.js';
import { decodeAscending } from './codec.js';
import { PENDING_PREFIX, POSTING_BLOCK_BITS, POSTING_PREFIX, SearchIndex, searchableText } from './search-index.js';
import { encodeTerm, indexTerms } from './tokenize.js';

const user = randomBytes(16).toString('base64url') as UserId;
const device = randomBytes(16).toString('base64url') as DeviceId;
/** Pending entries merged together in these tests (the default is larger): merges happen often, also mid-batch. */
const MERGE_AT = 16;
const WORDS = ['alpha', 'beta', 'gamma', 'delta', '北京大学', 'مرحبا', 'lunch', 'train'];

function message(conversationId: GroupId, seq: number, text: string): MessageRecord {
  const content = { type: 'text' as const, v: 1 as const, id: newContentId(), sentAt: 1_700_000_000_000 + seq, text };
  return { conversationId, seq, senderUserId: user, senderDeviceId: device, outgoing: false, receivedAt: content.sentAt, content, plaintext: encodeContent(content) } as MessageRecord;
}

/** A MemoryStore whose reads answer after a random delay (writes apply when handed over, as every adapter's do): commits interleave. */
class SlowStore extends MemoryStore {
  private delay(): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.random() * 3));
  }
  override async get(table: StoreTable, key: string): Promise<string | undefined> {
    const value = super.get(table, key);
    await this.delay();
    return value;
  }
  override async list(table: StoreTable, options?: StoreListOptions): Promise<StoreEntry[]> {
    const rows = super.list(table, options);
    await this.delay();
    return rows;
  }
  override async write(writes: readonly StoreWrite[]): Promise<void> {
    const done = super.write(writes);
    await this.delay();
    return done;
  }
}

/** What the stored index says: term → "conversation/seq" of every entry it names, read back by a fresh index (as after a restart). */
async function indexed(store: MemoryStore): Promise<Map<string, Set<string>>> {
  const index = new SearchIndex(store);
  await index.ready();
  const out = new Map<string, Set<string>>();
  for (const row of await store.list('meta', { prefix: POSTING_PREFIX })) {
    const [, term = '', block = ''] = row.key.split('/');
    const docs = decodeAscending(row.value, parseInt(block, 36) << POSTING_BLOCK_BITS);
    assert.ok(docs !== undefined && docs.length > 0, `${row.key}: a non-empty list`);
    const set = out.get(term) ?? new Set<string>();
    for (const d of docs) {
      const e = index.entry(d);
      assert.ok(e !== undefined, `${row.key} names document ${d}, which the document table has`);
      set.add(`${e.conversationId}/${e.seq}`);
    }
    out.set(term, set);
  }
  for (const row of await store.list('meta', { prefix: PENDING_PREFIX })) {
    const e = index.entry(parseInt(row.key.slice(PENDING_PREFIX.length), 36));
    assert.ok(e !== undefined, `${row.key}: a pending document the document table has`);
    for (const term of row.value.split(' ').slice(1)) out.set(term, (out.get(term) ?? new Set()).add(`${e.conversationId}/${e.seq}`));
  }
  return out;
}

/** What it must say: the terms of every stored text. */
async function expected(repo: ClientRepository, conversations: readonly GroupId[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const id of conversations) {
    for (const m of await repo.messages(id, { limit: 10_000 })) {
      const text = m.content.type === 'notice' ? undefined : searchableText(m as MessageRecord);
      for (const t of indexTerms(text ?? '')) {
        const key = encodeTerm(t);
        out.set(key, (out.get(key) ?? new Set()).add(`${id}/${m.seq}`));
      }
    }
  }
  return out;
}

describe('search index', () => {
  it('stays exact while commits of many conversations store, edit and delete at the same time', async () => {
    const store = new SlowStore();
    const repo = new ClientRepository(store);
    const index = new SearchIndex(store, MERGE_AT);
    repo.beforeCommit = (batch) => index.indexBatch(batch);
    const conversations = Array.from({ length: 8 }, () => randomBytes(32).toString('base64url') as GroupId);
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const text = (): string => Array.from({ length: 1 + rand(5) }, () => WORDS[rand(WORDS.length)]).join(' ');
    // Each conversation: its own sequence of batches (as under its lock); the conversations run concurrently.
    await Promise.all(
      conversations.map(async (id) => {
        let seq = 0;
        for (let round = 0; round < 25; round++) {
          const batch = new StoreBatch();
          for (let i = 0; i < 1 + rand(4); i++) batch.putMessage(message(id, ++seq, text()));
          if (seq > 3 && rand(3) === 0) batch.putMessage(message(id, 1 + rand(seq - 1), text())); // an edit
          if (seq > 3 && rand(4) === 0) batch.deleteMessage(id, 1 + rand(seq - 1)); // expired or deleted
          await repo.commit(batch);
        }
      }),
    );
    assert.deepEqual(await indexed(store), await expected(repo, conversations));
  });

  it('moves an edited entry between term rows, deletes rows it empties, and reads everything back after a restart', async () => {
    const store = new MemoryStore();
    const repo = new ClientRepository(store);
    repo.beforeCommit = (batch) => new SearchIndex(store, 1).indexBatch(batch); // a fresh index each time (everything from the store), every entry straight into the term rows
    const conv = randomBytes(32).toString('base64url') as GroupId;
    await repo.commit(new StoreBatch().putMessage(message(conv, 1, 'zebra crossing')).putMessage(message(conv, 2, 'crossing guard')));
    await repo.commit(new StoreBatch().putMessage(message(conv, 1, 'pedestrian crossing')));
    assert.deepEqual(await indexed(store), await expected(repo, [conv]));
    const keys = async () => [...(await store.list('meta', { prefix: POSTING_PREFIX })), ...(await store.list('meta', { prefix: PENDING_PREFIX }))].map((e) => `${e.key} ${e.value}`);
    assert.ok(!(await keys()).some((k) => k.includes('zebra')));
    await repo.commit(new StoreBatch().deleteMessage(conv, 2).deleteMessage(conv, 1));
    assert.deepEqual(await keys(), [], 'nothing of deleted texts stays');
    for (const prefix of ['sd/', 'sc/', 'su/']) assert.deepEqual(await store.list('meta', { prefix }), [], `nor their ${prefix} rows (no conversation or sender id outlives its messages)`);
    await repo.commit(new StoreBatch().putMessage(message(conv, 3, 'later')));
    assert.deepEqual(await indexed(store), await expected(repo, [conv]), 'a number freed at the top is given again, with nothing left of its old entry');
  });

  it('moves pending entries into the term rows once MERGE_AT are pending, in the batch that reaches it', async () => {
    const store = new MemoryStore();
    const repo = new ClientRepository(store);
    const index = new SearchIndex(store, MERGE_AT);
    repo.beforeCommit = (batch) => index.indexBatch(batch);
    const conv = randomBytes(32).toString('base64url') as GroupId;
    for (let seq = 1; seq < MERGE_AT; seq++) await repo.commit(new StoreBatch().putMessage(message(conv, seq, `lunch number${seq}`)));
    assert.equal((await store.list('meta', { prefix: PENDING_PREFIX })).length, MERGE_AT - 1);
    assert.deepEqual(await store.list('meta', { prefix: POSTING_PREFIX }), []);
    assert.equal((await index.docsFor('lunch')).length, MERGE_AT - 1, 'pending entries are found');
    await repo.commit(new StoreBatch().putMessage(message(conv, MERGE_AT, 'lunch at noon')).deleteMessage(conv, 2));
    assert.deepEqual(await store.list('meta', { prefix: PENDING_PREFIX }), []);
    assert.deepEqual((await store.list('meta', { prefix: POSTING_PREFIX + 'lunch/' })).map((e) => e.key), [`${POSTING_PREFIX}lunch/0`]);
    assert.equal((await index.docsFor('lunch')).length, MERGE_AT - 1);
    assert.deepEqual(await indexed(store), await expected(repo, [conv]));
  });

  it('reads everything again when the batch that merged was not stored', async () => {
    let failNext = false;
    class FlakyStore extends MemoryStore {
      override async write(writes: readonly StoreWrite[]): Promise<void> {
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
        return super.write(writes);
      }
    }
    const store = new FlakyStore();
    const repo = new ClientRepository(store);
    const index = new SearchIndex(store, MERGE_AT);
    repo.beforeCommit = (batch) => index.indexBatch(batch);
    const conv = randomBytes(32).toString('base64url') as GroupId;
    for (let seq = 1; seq < MERGE_AT; seq++) await repo.commit(new StoreBatch().putMessage(message(conv, seq, 'lunch')));
    failNext = true;
    await assert.rejects(repo.commit(new StoreBatch().putMessage(message(conv, MERGE_AT, 'lunch'))), /disk full/);
    await repo.commit(new StoreBatch().putMessage(message(conv, MERGE_AT + 1, 'dinner')));
    assert.equal((await index.docsFor('lunch')).length, MERGE_AT - 1, 'the entries stored before the failed merge are found');
    assert.deepEqual(await indexed(store), await expected(repo, [conv]));
  });

  it('skips rows it cannot read instead of failing the query', async () => {
    const store = new MemoryStore();
    const repo = new ClientRepository(store);
    const index = new SearchIndex(store, MERGE_AT);
    repo.beforeCommit = (batch) => index.indexBatch(batch);
    const conv = randomBytes(32).toString('base64url') as GroupId;
    for (let seq = 1; seq <= MERGE_AT; seq++) await repo.commit(new StoreBatch().putMessage(message(conv, seq, seq === 1 ? 'apples' : 'apricots')));
    await store.write([{ type: 'put', table: 'meta', key: `${POSTING_PREFIX}apples/0`, value: 'not a list' }]);
    await repo.commit(new StoreBatch().putMessage(message(conv, MERGE_AT + 1, 'other'))); // the merged entries are no longer kept aside
    assert.deepEqual([...(await index.docsFor('ap'))], Array.from({ length: MERGE_AT - 1 }, (_, i) => i + 1), 'the apples row is skipped');
  });
});
