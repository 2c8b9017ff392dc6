import type { MessageRecord } from '../store/message-records.js';
import { toMessage } from '../store/message-records.js';
import type { StoreBatch } from '../store/records.js';
import type { Store, StoreWrite } from '../store/store.js';
import { encodeTerm, indexTerms } from './tokenize.js';

/**
 * The search index: an inverted index in the store's own `meta` table, one
 * posting per (term, message) — key `st/<term>/<conversation>/<seq>`,
 * value the message's sentAt (base 36) so results sort by time without
 * reading the messages (the seq in base 36: keys are most of the index). Terms are encoded prefix-preserving (tokenize.ts
 * encodeTerm), so `store.list({ prefix })` finds every term that starts
 * with a query word. It is kept by the repository's commit hook
 * (indexBatch): every batch that writes a history entry (stored, edited,
 * deleted for everyone, expired, removed with a message request) carries the
 * index change in the SAME atomic write. Nothing else is kept: no text, no
 * sender, no per-message term list (the old terms of an entry come from the
 * entry as stored before the batch).
 */

export const SEARCH_PREFIX = 'search/';
export const POSTING_PREFIX = 'st/';
/**
 * Characters of the conversation id in a posting key: enough to tell this
 * device's conversations apart (MLS group ids are random; 60 bits), far
 * shorter than the id — keys are most of the index. A query maps them back
 * through the conversation records (and checks the text if two share them).
 */
export const CONVERSATION_CHARS = 10;
/** Only history entries: "<conversation>/<16-digit seq>" (notices, "….0000", are not searched). */
const ENTRY_KEY = /^([A-Za-z0-9_-]+)\/(\d{16})$/;

export interface Posting {
  /** The first CONVERSATION_CHARS characters of the conversation id. */
  readonly conversation: string;
  readonly seq: number;
  readonly sentAt: number;
}

/** The searchable text of an entry: a text message's text, an attachment's caption and file name (edits applied). */
export function searchableText(m: MessageRecord): string | undefined {
  const c = m.content;
  if (c.type === 'text') return c.text;
  if (c.type === 'attachment') return [c.caption ?? '', c.fileName].join(' ');
  return undefined;
}

function terms(m: MessageRecord | undefined): Set<string> {
  const text = m === undefined ? undefined : searchableText(m);
  return text === undefined ? new Set() : indexTerms(text);
}

function postingKey(term: string, m: Pick<MessageRecord, 'conversationId' | 'seq'>): string {
  return `${POSTING_PREFIX}${encodeTerm(term)}/${m.conversationId.slice(0, CONVERSATION_CHARS)}/${m.seq.toString(36)}`;
}

/** A stored entry that does not read (corrupt) is treated as not indexed: reads report it where it matters. */
function read(key: string, value: string | undefined): MessageRecord | undefined {
  if (value === undefined) return undefined;
  try {
    return toMessage(key, value);
  } catch {
    return undefined;
  }
}

/**
 * Adds to `batch` the index change for every history entry it writes: the
 * postings of terms the entry no longer has are deleted, new ones put.
 */
export async function indexBatch(store: Store, batch: StoreBatch): Promise<void> {
  const last = new Map<string, StoreWrite>();
  for (const w of batch.writes) if (w.table === 'messages' && ENTRY_KEY.test(w.key)) last.set(w.key, w);
  if (last.size === 0) return;
  const out: StoreWrite[] = [];
  for (const [key, w] of last) {
    const after = w.type === 'put' ? read(key, w.value) : undefined;
    const newTerms = terms(after);
    const before = read(key, await store.get('messages', key));
    const oldTerms = terms(before);
    if (before !== undefined) for (const t of oldTerms) if (!newTerms.has(t)) out.push({ type: 'delete', table: 'meta', key: postingKey(t, before) });
    if (after === undefined) continue;
    const value = after.content.sentAt.toString(36);
    for (const t of newTerms) if (!oldTerms.has(t)) out.push({ type: 'put', table: 'meta', key: postingKey(t, after), value });
  }
  batch.writes.push(...out);
}

/** The postings (index writes only, no batch) for entries read from the store: for building the index of older history. */
export function postingsOf(m: MessageRecord): StoreWrite[] {
  const value = m.content.sentAt.toString(36);
  return [...terms(m)].map((t) => ({ type: 'put', table: 'meta', key: postingKey(t, m), value }));
}

/** Every posting of terms starting with `term` (one prefix scan). Malformed keys (never written by us) are skipped. */
export async function postingsFor(store: Store, term: string): Promise<Posting[]> {
  const rows = await store.list('meta', { prefix: POSTING_PREFIX + encodeTerm(term) });
  const out: Posting[] = [];
  for (const row of rows) {
    const parts = row.key.split('/');
    const seq = parseInt(parts.at(-1) ?? '', 36);
    const conversation = parts.at(-2);
    const sentAt = parseInt(row.value, 36);
    if (conversation === undefined || !Number.isSafeInteger(seq) || !Number.isSafeInteger(sentAt)) continue;
    out.push({ conversation, seq, sentAt });
  }
  return out;
}
