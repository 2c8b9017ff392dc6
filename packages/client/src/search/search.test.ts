import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeContent, newContentId } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import { KeyedMutex } from '../mutex.js';
import { MemoryStore } from '../store/memory-store.js';
import { ClientRepository, newConversationRecord, StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import { PENDING_PREFIX, POSTING_PREFIX } from './search-index.js';
import { Search } from './search.js';

const user = randomBytes(16).toString('base64url') as UserId;
const device = randomBytes(16).toString('base64url') as DeviceId;

function message(conversationId: GroupId, seq: number, text: string): MessageRecord {
  const content = { type: 'text' as const, v: 1 as const, id: newContentId(), sentAt: 1_700_000_000_000 + seq, text };
  return { conversationId, seq, senderUserId: user, senderDeviceId: device, outgoing: false, receivedAt: content.sentAt, content, plaintext: encodeContent(content) } as MessageRecord;
}

/** A Search over a bare repository (no server): the parts of the core it uses. */
function setup() {
  const repo = new ClientRepository(new MemoryStore());
  const core = { repo, locks: new KeyedMutex(), session: () => ({}), hiddenGroup: () => undefined, isClosed: () => false } as unknown as ClientCore;
  const state = { visible: () => undefined, nameOf: () => null } as unknown as GroupState;
  return { repo, search: new Search(core, state) };
}

async function store(repo: ClientRepository, ids: readonly GroupId[], messages: readonly MessageRecord[]): Promise<void> {
  const batch = new StoreBatch();
  for (const id of ids) batch.putConversation(newConversationRecord({ id, title: null, kind: 'group', members: [] }));
  for (const m of messages) batch.putMessage(m);
  await repo.commit(batch);
}

describe('search module', () => {
  it('indexes history stored before the index existed, in batches, once', async () => {
    const { repo, search } = setup();
    const conv = randomBytes(32).toString('base64url') as GroupId;
    // Stored without the index (an older version of the client).
    await store(repo, [conv], Array.from({ length: 450 }, (_, i) => message(conv, i + 1, i === 7 ? 'the old address is 12 Elm street' : `message number ${i}`)));
    // Rows of the first index layout (one per term and message) are removed by the backfill.
    await repo.store.write([{ type: 'put', table: 'meta', key: `st/elm/${conv.slice(0, 10)}/8`, value: 'lx2' }]);
    search.attach();
    assert.deepEqual(await search.query('elm'), []);
    assert.equal(await search.backfill(), 450);
    assert.deepEqual(await repo.store.list('meta', { prefix: 'st/' }), []);
    assert.deepEqual((await search.query('elm')).map((r) => r.seq), [8]);
    assert.equal((await search.query('number', { limit: 200 })).length, 200);
    assert.equal(await search.backfill(), 0, 'done once');
    // Edits after it replace what it indexed.
    await store(repo, [], [message(conv, 8, 'moved away')]);
    assert.deepEqual(await search.query('elm'), []);
    assert.deepEqual((await search.query('moved')).map((r) => r.seq), [8]);
  });

  it('tells apart two conversations whose ids start alike', async () => {
    const { repo, search } = setup();
    search.attach();
    const start = randomBytes(8).toString('base64url').slice(0, 10);
    const a = `${start}${randomBytes(24).toString('base64url')}` as GroupId;
    const b = `${start}${randomBytes(24).toString('base64url')}` as GroupId;
    await store(repo, [a, b], [message(a, 1, 'apples and pears'), message(b, 1, 'oranges')]);
    assert.deepEqual((await search.query('apples')).map((r) => r.conversationId), [a]);
    assert.deepEqual((await search.query('oranges')).map((r) => r.conversationId), [b]);
    assert.deepEqual((await search.query('oranges', { conversationId: a })).length, 0);
    // Two new entries: pending rows (entry, then terms), not yet in the term rows.
    assert.deepEqual(await repo.store.list('meta', { prefix: POSTING_PREFIX }), []);
    assert.deepEqual((await repo.store.list('meta', { prefix: PENDING_PREFIX })).map((e) => e.value.split(' ').slice(1).sort()), [['and', 'apples', 'pears'], ['oranges']]);
  });
});
