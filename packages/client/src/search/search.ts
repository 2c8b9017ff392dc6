import { z } from 'zod';
import { GroupIdSchema, UserIdSchema } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import { CONVERSATION_CHARS, indexBatch, postingsFor, postingsOf, searchableText, SEARCH_PREFIX } from './search-index.js';
import type { Posting } from './search-index.js';
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

/** What the app calls (ParleyClient.search). */
export type SearchApi = Pick<Search, 'query'>;

/** Entries the index of older history reads per batch (under the conversation's lock). */
const BACKFILL_PAGE = 200;
/** meta key: conversations whose older history is indexed ("done" once all are). */
const BACKFILL_KEY = `${SEARCH_PREFIX}backfilled`;

/**
 * Full-text search over the history on this device (nothing leaves it):
 * the index (search-index.ts) follows every write of a history entry in the
 * same batch; query() intersects the postings of each query word (prefix
 * match), newest first, then reads the entries to apply the filters and cut
 * the snippet.
 */
export class Search {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
  ) {}

  /** Connects the index to the repository: every committed batch carries its index change. */
  attach(): void {
    this.core.repo.beforeCommit = (batch) => indexBatch(this.core.repo.store, batch);
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
    const hidden = this.core.hiddenGroup();
    // Posting keys hold the start of a conversation id: mapped back through this device's conversations.
    const byPrefix = new Map<string, GroupId[]>();
    for (const c of await this.core.repo.conversations()) {
      if (c.id === hidden) continue;
      const p = c.id.slice(0, CONVERSATION_CHARS);
      byPrefix.set(p, [...(byPrefix.get(p) ?? []), c.id]);
    }
    const wanted = (id: GroupId): boolean => o.conversationId === undefined || id === o.conversationId;
    const keep = (p: Posting): boolean => (byPrefix.get(p.conversation) ?? []).some(wanted) && (o.before === undefined || p.sentAt < o.before);
    // Every term must match (as a prefix of some word of the message).
    let hits: Map<string, Posting> | undefined;
    for (const term of terms) {
      const next = new Map<string, Posting>();
      for (const p of await postingsFor(this.core.repo.store, term)) {
        const key = `${p.conversation}/${p.seq}`;
        if (keep(p) && (hits === undefined || hits.has(key))) next.set(key, p);
      }
      hits = next;
      if (hits.size === 0) return [];
    }
    const ordered = [...(hits ?? new Map<string, Posting>()).values()].sort((a, b) => b.sentAt - a.sentAt || b.seq - a.seq);
    const limit = o.limit ?? DEFAULT_LIMIT;
    const results: SearchResult[] = [];
    for (const p of ordered) {
      const ids = byPrefix.get(p.conversation) ?? [];
      for (const id of ids.filter(wanted)) {
        if (results.length >= limit) break;
        const m = await this.core.repo.message(id, p.seq).catch(() => undefined);
        if (m === undefined) continue;
        if (o.from !== undefined && m.senderUserId !== o.from) continue;
        if (o.attachmentsOnly === true && m.content.type !== 'attachment') continue;
        const body = searchableText(m);
        if (body === undefined) continue;
        // Two conversations whose ids start alike: only the one whose message has every term.
        if (ids.length > 1 && !matchesAll(body, terms)) continue;
        results.push({ conversationId: m.conversationId, seq: m.seq, sender: { userId: m.senderUserId, username: this.state.nameOf(m.senderUserId) }, sentAt: m.content.sentAt, ...snippetOf(body, terms) });
      }
    }
    return results;
  }

  /**
   * Indexes history stored before this device had the index (older
   * versions, an imported archive written some other way): each conversation
   * in bounded batches under its lock, so an edit or delete meanwhile is
   * applied on top of it. Idempotent; remembers when it is done.
   */
  async backfill(): Promise<number> {
    const repo = this.core.repo;
    if ((await repo.store.get('meta', BACKFILL_KEY)) === 'done') return 0;
    let indexed = 0;
    for (const conv of await repo.conversations()) {
      let after = 0;
      for (;;) {
        if (this.core.isClosed()) return indexed;
        const page = await this.core.locks.run(conv.id, async () => {
          const entries = await repo.messages(conv.id, { afterSeq: after, limit: BACKFILL_PAGE });
          const batch = new StoreBatch();
          for (const m of entries) if (m.content.type !== 'notice') batch.writes.push(...postingsOf(m as MessageRecord));
          if (batch.writes.length > 0) await repo.store.write(batch.writes);
          return entries;
        });
        indexed += page.filter((m) => m.content.type !== 'notice').length;
        const last = page.at(-1);
        if (last === undefined || page.length < BACKFILL_PAGE) break;
        after = last.seq;
      }
    }
    await repo.store.write([{ type: 'put', table: 'meta', key: BACKFILL_KEY, value: 'done' }]);
    return indexed;
  }
}
