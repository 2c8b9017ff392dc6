import { z } from 'zod';
import { GroupIdSchema, UserIdSchema } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import { ClientError } from '../errors.js';
import type { MessageRecord } from '../store/records.js';
import { LEGACY_POSTING_PREFIX, SEARCH_PREFIX, SearchIndex, searchableText } from './search-index.js';
import { snippetOf } from './snippet.js';
import type { MatchRange } from './snippet.js';
import { indexTerms, queryTerms } from './tokenize.js';

export type { MatchRange } from './snippet.js';

export interface SearchResult {
  readonly conversationId: GroupId;
  readonly seq: number;
  readonly sender: { readonly userId: UserId; readonly username: string | null };
  readonly sentAt: number;
  /** The text (or caption and file name) around the first match, "…" where cut. */
  readonly snippet: string;
  /** Where the query matched in `snippet` (UTF-16 offsets, end exclusive). */
  readonly matches: readonly MatchRange[];
}

export const MAX_QUERY_LENGTH = 1_000;
const DEFAULT_LIMIT = 20;

const QueryOptionsSchema = z
  .object({
    /** Only this conversation. */
    conversationId: GroupIdSchema.optional(),
    /** Only messages this user sent. */
    from: UserIdSchema.optional(),
    /** Only attachments (matched by caption and file name). */
    attachmentsOnly: z.boolean().optional(),
    limit: z.number().int().min(1).max(200).optional(),
    /** Only messages sent before this time (ms, exclusive): the next page after the last result's sentAt. */
    before: z.number().int().min(0).optional(),
  })
  .strict();
export type SearchOptions = z.input<typeof QueryOptionsSchema>;

/** Whether every query term starts some indexed term of `text`. */
function matchesAll(text: string, terms: readonly string[]): boolean {
  const indexed = [...indexTerms(text)];
  return terms.every((t) => indexed.some((i) => i.startsWith(t)));
}

/** The documents in both ascending lists. */
function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.min(a.length, b.length));
  let n = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      out[n++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.subarray(0, n);
}

/** What the app calls (ParleyClient.search). */
export type SearchApi = Pick<Search, 'query'>;

/** Entries the index of older history reads per batch (under the conversation's lock). */
const BACKFILL_PAGE = 200;
/** meta key: set to BACKFILL_DONE once the history stored before the index (or before this layout of it) is indexed. */
const BACKFILL_KEY = `${SEARCH_PREFIX}backfilled`;
const BACKFILL_DONE = 'v2';

/**
 * Full-text search over the history on this device (nothing leaves it):
 * the index (search-index.ts) follows every write of a history entry in the
 * same batch; query() intersects the documents of each query word (prefix
 * match), filters and sorts them newest first by the document table (in
 * memory), then reads the entries of one page to check them and cut the
 * snippets.
 */
export class Search {
  readonly index: SearchIndex;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
  ) {
    this.index = new SearchIndex(core.repo.store);
  }

  /** Connects the index to the repository: every committed batch carries its index change. */
  attach(): void {
    this.core.repo.beforeCommit = (batch) => this.index.indexBatch(batch);
  }

  async query(text: string, options: SearchOptions = {}): Promise<SearchResult[]> {
    this.core.session();
    if (typeof text !== 'string' || text.length > MAX_QUERY_LENGTH) throw new ClientError('bad_request', `the query is a string of at most ${MAX_QUERY_LENGTH} characters`);
    const parsed = QueryOptionsSchema.safeParse(options);
    if (!parsed.success) throw new ClientError('bad_request', `invalid search options: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    const o = parsed.data;
    if (o.conversationId !== undefined) this.state.visible(o.conversationId);
    const terms = queryTerms(text);
    if (terms.length === 0) return [];
    const index = this.index;
    await index.ready();
    const conversation = o.conversationId === undefined ? undefined : index.conversationNumber(o.conversationId);
    const sender = o.from === undefined ? undefined : index.senderNumber(o.from);
    if ((o.conversationId !== undefined && conversation === undefined) || (o.from !== undefined && sender === undefined)) return [];
    const hiddenId = this.core.hiddenGroup();
    const hidden = hiddenId === undefined ? -1 : (index.conversationNumber(hiddenId) ?? -1);
    // Every term must match (as a prefix of some word of the message): the smallest list first.
    const lists = (await index.lookup(terms)).sort((a, b) => a.length - b.length);
    let hits = lists[0] ?? new Uint32Array(0);
    for (const l of lists.slice(1)) hits = intersect(hits, l);
    const table = index.table;
    const candidates: number[] = [];
    for (const doc of hits) {
      const e = table.get(doc);
      if (e === undefined || e.conversation === hidden || (conversation !== undefined && e.conversation !== conversation)) continue;
      if ((sender !== undefined && e.sender !== sender) || (o.attachmentsOnly === true && !e.attachment) || (o.before !== undefined && e.sentAt >= o.before)) continue;
      candidates.push(doc);
    }
    const at = (doc: number) => table.sentAtOf(doc);
    candidates.sort((a, b) => at(b) - at(a) || (table.get(b)?.seq ?? 0) - (table.get(a)?.seq ?? 0));
    const limit = o.limit ?? DEFAULT_LIMIT;
    const results: SearchResult[] = [];
    // One page of entries read together; more only if some do not check out (changed since, or a batch that failed to be stored).
    for (let i = 0; results.length < limit && i < candidates.length; ) {
      const page = candidates.slice(i, i + limit - results.length).map((doc) => index.entry(doc));
      i += page.length;
      const read = await Promise.all(page.map((e) => (e === undefined ? undefined : this.core.repo.message(e.conversationId as GroupId, e.seq).catch(() => undefined))));
      for (const m of read) {
        if (m === undefined) continue;
        if (o.from !== undefined && m.senderUserId !== o.from) continue;
        if (o.attachmentsOnly === true && m.content.type !== 'attachment') continue;
        const body = searchableText(m);
        if (body === undefined || !matchesAll(body, terms)) continue;
        results.push({ conversationId: m.conversationId, seq: m.seq, sender: { userId: m.senderUserId, username: this.state.nameOf(m.senderUserId) }, sentAt: m.content.sentAt, ...snippetOf(body, terms) });
      }
    }
    return results;
  }

  /**
   * Indexes history stored before this device had the index (older
   * versions, an imported archive written some other way), and removes the
   * rows of the first index layout: each conversation in bounded batches
   * under its lock, so an edit or delete meanwhile is applied on top of it.
   * Idempotent; remembers when it is done.
   */
  async backfill(): Promise<number> {
    const repo = this.core.repo;
    // The document table is loaded now (after the first sync), not by the first query typed.
    await this.index.ready();
    if ((await repo.store.get('meta', BACKFILL_KEY)) === BACKFILL_DONE) return 0;
    for (;;) {
      const legacy = await repo.store.list('meta', { prefix: LEGACY_POSTING_PREFIX, limit: 1000 });
      if (legacy.length === 0 || this.core.isClosed()) break;
      await repo.store.write(legacy.map((e) => ({ type: 'delete', table: 'meta', key: e.key })));
    }
    let indexed = 0;
    for (const conv of await repo.conversations()) {
      let after = 0;
      for (;;) {
        if (this.core.isClosed()) return indexed;
        const page = await this.core.locks.run(conv.id, async () => {
          const entries = await repo.messages(conv.id, { afterSeq: after, limit: BACKFILL_PAGE });
          indexed += await this.index.indexStored(entries.filter((m): m is MessageRecord => m.content.type !== 'notice'));
          return entries;
        });
        const last = page.at(-1);
        if (last === undefined || page.length < BACKFILL_PAGE) break;
        after = last.seq;
      }
    }
    await repo.store.write([{ type: 'put', table: 'meta', key: BACKFILL_KEY, value: BACKFILL_DONE }]);
    return indexed;
  }
}
