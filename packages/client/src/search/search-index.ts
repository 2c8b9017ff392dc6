import type { MessageRecord } from '../store/message-records.js';
import { toMessage } from '../store/message-records.js';
import type { StoreBatch } from '../store/records.js';
import type { Store, StoreWrite } from '../store/store.js';
import { decodeAscending, encodeAscending, readUints, writeUint } from './codec.js';
import { CONVERSATION_PREFIX, DocTable, DOC_PREFIX, IdTable, SENDER_PREFIX } from './doc-table.js';
import type { DocEntry } from './doc-table.js';
import { encodeTerm, indexTerms } from './tokenize.js';

/**
 * The search index, in the store's own `meta` table, kept in the SAME
 * atomic batch as every history write (the repository's commit hook calls
 * indexBatch): stored, edited, deleted for everyone, expired, removed with a
 * message request.
 *
 * Layout (sizes measured in bench/README.md):
 * - `si/<term>/<block>` → the document numbers in [block·4096, block·4096 +
 *   4095] whose entry has the term, as gaps (codec.ts): one row per term and
 *   block of documents, not per (term, message), so keys are amortised and
 *   a common word costs about one character per message. Terms are encoded
 *   prefix-preserving (tokenize.ts encodeTerm), so `list({ prefix })` finds
 *   every term starting with a query word.
 * - `sp/<doc>` → a new entry's document-table entry and terms (pending),
 *   until MERGE_AT are pending: then one batch moves them all into the
 *   term rows and the document table.
 * - `sd/<block>` → the document table (doc-table.ts), `sc/<n>` and `su/<n>`
 *   the numbers of conversations and senders.
 * Nothing else: no text, no per-document term list (the old terms of an
 * entry come from the entry as stored before the batch). An edit keeps the
 * entry's document number and moves it between term rows; a delete takes
 * it out of every row of its terms and out of the document table — an
 * emptied row is deleted, so nothing of a deleted or expired text stays.
 *
 * Term rows are shared by messages of every conversation, and commits of
 * different conversations run concurrently: each change is a
 * read-modify-write. They are serialised here — one batch at a time computes
 * its rows (reading, inside its turn, what earlier turns wrote) and the turn
 * passes on only after a macrotask, by which time the commit that called
 * the hook has handed its batch to the store; every adapter orders a read
 * after a write handed to it earlier (IndexedDB schedules transactions in
 * creation order). Recently used rows are cached. A batch that then fails
 * to be written leaves memory ahead of the store: its entries may be
 * written with a later batch, so the index may name entries that are not
 * stored — queries read every result's entry and check it, so that costs
 * nothing but a read. A failed merge would also leave the moved entries
 * out of both the stored term rows and the in-memory pending ones, so the
 * batch after a merge reads one of the merge's rows back, and if it is not
 * there, everything is read again from the store.
 */

export const SEARCH_PREFIX = 'search/';
export const POSTING_PREFIX = 'si/';
/** The per-(term, message) rows of the first version (`st/<term>/<conversation>/<seq>`): removed by the backfill. */
export const LEGACY_POSTING_PREFIX = 'st/';
export const PENDING_PREFIX = 'sp/';
export const POSTING_BLOCK_BITS = 12;
/** New entries wait as pending rows until this many are pending, then go into the term rows together. */
export const MERGE_AT = 1024;
/** Term rows kept in memory between batches (each a few hundred characters at most). */
const CACHE_ROWS = 20_000;
/** Only history entries: "<conversation>/<16-digit seq>" (notices, "….0000", are not searched). */
const ENTRY_KEY = /^([A-Za-z0-9_-]+)\/(\d{16})$/;

/** The searchable text of an entry: a text message's text, an attachment's caption and file name (edits applied). */
export function searchableText(m: MessageRecord): string | undefined {
  const c = m.content;
  if (c.type === 'text') return c.text;
  if (c.type === 'attachment') return [c.caption ?? '', c.fileName].join(' ');
  return undefined;
}

/** The terms of an entry, encoded as in keys (tokenize.ts encodeTerm). */
function terms(m: MessageRecord | undefined): Set<string> {
  const text = m === undefined ? undefined : searchableText(m);
  return text === undefined ? new Set() : new Set([...indexTerms(text)].map(encodeTerm));
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

/** The term row of an (encoded) term that holds `doc`. */
function rowKey(term: string, doc: number): string {
  return `${POSTING_PREFIX}${term}/${(doc >> POSTING_BLOCK_BITS).toString(36)}`;
}

function pendingKey(doc: number): string {
  return `${PENDING_PREFIX}${doc.toString(36)}`;
}

/** One term row as the index holds it: its documents, ascending, and its base (the block's first number). */
interface Row {
  docs: number[];
  readonly base: number;
}

/** A change to one history entry: what it was (if indexed) and what it becomes (undefined: gone). */
interface Change {
  readonly conversationId: string;
  readonly seq: number;
  readonly before: MessageRecord | undefined;
  readonly after: MessageRecord | undefined;
}

/** Runs `fn` as a task after the current one (and so after every promise job it queued). */
function nextTask(fn: () => void): void {
  const g = globalThis as unknown as { setImmediate?: (f: () => void) => void; MessageChannel?: new () => { port1: { onmessage: (() => void) | null; close(): void }; port2: { postMessage(m: unknown): void; close(): void } } };
  if (typeof g.setImmediate === 'function') return void g.setImmediate(fn);
  if (typeof g.MessageChannel === 'function') {
    const channel = new g.MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      channel.port2.close();
      fn();
    };
    channel.port2.postMessage(null);
    return;
  }
  setTimeout(fn, 0);
}

export class SearchIndex {
  private docs = new DocTable();
  private conversations = new IdTable(CONVERSATION_PREFIX);
  private senders = new IdTable(SENDER_PREFIX);
  /** A row the last merge wrote, and its value: read back by the next batch to tell whether the merge was stored. */
  private mergeCheck: { key: string; value: string | undefined } | undefined;
  private readonly rows = new Map<string, Row | null>();
  /** Documents in a pending row (`sp/<doc>` → entry and terms), not yet in the term rows. */
  private readonly pending = new Map<number, readonly string[]>();
  /** The pending entries the last batch moved into the term rows (see lookup). */
  private merging = new Map<number, readonly string[]>();
  private loading: Promise<void> | undefined;
  private turn: Promise<void> = Promise.resolve();

  /** `mergeAt`: pending entries that go into the term rows together (smaller in tests). */
  constructor(
    readonly store: Store,
    private readonly mergeAt = MERGE_AT,
  ) {}

  /** Loads the document table (once; again after a failed load). */
  ready(): Promise<void> {
    this.loading ??= this.load().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  /** Forgets everything held in memory and reads the index again (after a batch that failed to be stored). */
  private async reload(): Promise<void> {
    this.docs = new DocTable();
    this.conversations = new IdTable(CONVERSATION_PREFIX);
    this.senders = new IdTable(SENDER_PREFIX);
    this.rows.clear();
    this.pending.clear();
    this.merging = new Map();
    this.loading = undefined;
    await this.ready();
  }

  private async load(): Promise<void> {
    const [pendingRows, docRows, convRows, senderRows] = await Promise.all([
      this.store.list('meta', { prefix: PENDING_PREFIX }),
      this.store.list('meta', { prefix: DOC_PREFIX }),
      this.store.list('meta', { prefix: CONVERSATION_PREFIX }),
      this.store.list('meta', { prefix: SENDER_PREFIX }),
    ]);
    this.conversations.load(convRows);
    this.senders.load(senderRows);
    this.docs.load(docRows);
    for (const row of pendingRows) {
      const doc = Number.parseInt(row.key.slice(PENDING_PREFIX.length), 36);
      const [fields = '', ...terms] = row.value.split(' ');
      const n = readUints(fields);
      if (!Number.isSafeInteger(doc) || doc < 0 || n?.length !== 4 || terms.length === 0) continue;
      const [conversation = 0, seq = 0, sentAt = 0, flags = 0] = n;
      this.docs.set(doc, { conversation, seq, sentAt, sender: Math.floor(flags / 2), attachment: flags % 2 === 1 }, true);
      this.pending.set(doc, terms);
    }
  }

  /** The entry of a document, with its conversation and sender ids. */
  entry(doc: number): (DocEntry & { conversationId: string; senderId: string }) | undefined {
    const e = this.docs.get(doc);
    const conversationId = e === undefined ? undefined : this.conversations.idOf(e.conversation);
    const senderId = e === undefined ? undefined : this.senders.idOf(e.sender);
    return e === undefined || conversationId === undefined || senderId === undefined ? undefined : { ...e, conversationId, senderId };
  }

  conversationNumber(id: string): number | undefined {
    return this.conversations.numberOf(id);
  }

  senderNumber(id: string): number | undefined {
    return this.senders.numberOf(id);
  }

  get table(): DocTable {
    return this.docs;
  }

  /** Whether the entry has a document (is indexed). */
  has(conversationId: string, seq: number): boolean {
    const c = this.conversations.numberOf(conversationId);
    return c !== undefined && this.docs.docOf(c, seq) !== undefined;
  }

  /** Every document with a term starting with `term`, ascending and distinct (see lookup). */
  async docsFor(term: string): Promise<Uint32Array> {
    return (await this.lookup([term]))[0] ?? new Uint32Array(0);
  }

  /**
   * For each query term, every document with a term starting with it:
   * one prefix scan of the term rows per term, plus the pending entries
   * (kept in memory; those that went into the term rows in a batch that
   * may not be stored yet are kept aside until the next batch's turn, by
   * when it is: the scans see one or the other). Rows that do not read are
   * skipped.
   */
  async lookup(terms: readonly string[]): Promise<Uint32Array[]> {
    const prefixes = terms.map((t) => POSTING_PREFIX + encodeTerm(t));
    const pending = [...this.pending, ...this.merging];
    const termRows = await Promise.all(prefixes.map((prefix) => this.store.list('meta', { prefix })));
    return prefixes.map((prefix, i) => {
      const lists: number[][] = [];
      for (const row of termRows[i] ?? []) {
        const slash = row.key.lastIndexOf('/');
        const block = Number.parseInt(row.key.slice(slash + 1), 36);
        if (slash < prefix.length || !Number.isSafeInteger(block)) continue;
        const docs = decodeAscending(row.value, block << POSTING_BLOCK_BITS);
        if (docs !== undefined) lists.push(docs);
      }
      const term = prefix.slice(POSTING_PREFIX.length);
      lists.push(pending.filter(([, ts]) => ts.some((t) => t.startsWith(term))).map(([doc]) => doc));
      const out = new Uint32Array(lists.reduce((n, l) => n + l.length, 0));
      let at = 0;
      for (const l of lists) for (const d of l) out[at++] = d;
      out.sort();
      let n = 0;
      for (let j = 0; j < out.length; j++) if (j === 0 || out[j] !== out[j - 1]) out[n++] = out[j] as number;
      return out.subarray(0, n);
    });
  }

  /**
   * The commit hook: adds to `batch` the index change for every history
   * entry it writes. Returns once the change is computed; the next batch's
   * turn starts after the caller has handed this one to the store.
   */
  async indexBatch(batch: StoreBatch): Promise<void> {
    const last = new Map<string, StoreWrite>();
    for (const w of batch.writes) if (w.table === 'messages' && ENTRY_KEY.test(w.key)) last.set(w.key, w);
    if (last.size === 0) return;
    await this.ready();
    const changes: Change[] = [];
    for (const [key, w] of last) {
      const [, conversationId = '', seqText = ''] = ENTRY_KEY.exec(key) ?? [];
      const seq = Number(seqText);
      // The entry as stored before is read only if it was indexed (a new message, the usual case, costs no read).
      const before = this.has(conversationId, seq) ? read(key, await this.store.get('messages', key)) : undefined;
      changes.push({ conversationId, seq, before, after: w.type === 'put' ? read(key, w.value) : undefined });
    }
    const release = await this.acquire();
    try {
      batch.writes.push(...(await this.apply(changes)));
    } finally {
      // After the commit that called us has handed the batch to the store (it does so without waiting for a task).
      nextTask(release);
    }
  }

  /**
   * Indexes entries stored without the index (the backfill), under the
   * caller's lock for their conversation; entries already indexed are left.
   * Writes its own batch (index rows only).
   */
  async indexStored(entries: readonly MessageRecord[]): Promise<number> {
    await this.ready();
    const changes = entries.filter((m) => !this.has(m.conversationId, m.seq)).map((m) => ({ conversationId: m.conversationId, seq: m.seq, before: undefined, after: m }));
    if (changes.length === 0) return 0;
    const release = await this.acquire();
    try {
      const writes = await this.apply(changes);
      if (writes.length > 0) await this.store.write(writes);
    } finally {
      release();
    }
    return changes.length;
  }

  private acquire(): Promise<() => void> {
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const prev = this.turn;
    this.turn = prev.then(() => mine);
    return prev.then(() => release);
  }

  /**
   * Inside a turn: reads the term rows it needs, then computes every write.
   * A new entry gets the next document number and a pending row (its
   * document-table entry and its terms: one write, whatever its length);
   * once `mergeAt` are pending they all go into the term rows and the
   * document blocks in the same batch — so storing one message writes one
   * small row more, and the term rows are rewritten once per `mergeAt`
   * messages. A pending entry that is edited or deleted has only its pending row
   * rewritten or deleted.
   */
  private async apply(changes: readonly Change[]): Promise<StoreWrite[]> {
    if (this.mergeCheck !== undefined) {
      // The batch that merged has been handed to the store (this is a later turn): if it failed, memory is ahead of the store — read it all again.
      const { key, value } = this.mergeCheck;
      this.mergeCheck = undefined;
      if ((await this.store.get('meta', key)) !== value) await this.reload();
    }
    if (this.rows.size > CACHE_ROWS) this.rows.clear();
    const out: StoreWrite[] = [];
    let next = this.docs.next;
    const plans = changes.map((c) => {
      const conv = this.conversations.numberOf(c.conversationId);
      const existing = conv === undefined ? undefined : this.docs.docOf(conv, c.seq);
      const inRows = existing !== undefined && !this.pending.has(existing);
      const oldTerms = inRows ? terms(c.before) : new Set<string>();
      const newTerms = terms(c.after);
      const doc = existing ?? (newTerms.size > 0 ? next++ : undefined);
      return { change: c, doc, existing, inRows, oldTerms, newTerms };
    });
    // Which term rows change: those of entries already in them, and all of them if the pending ones go in now.
    const keys = new Set<string>();
    for (const p of plans) {
      if (p.doc === undefined || !p.inRows) continue;
      for (const t of p.oldTerms) if (!p.newTerms.has(t)) keys.add(rowKey(t, p.doc));
      for (const t of p.newTerms) if (!p.oldTerms.has(t)) keys.add(rowKey(t, p.doc));
    }
    const merge = this.pending.size + (next - this.docs.next) >= this.mergeAt;
    if (merge) {
      for (const [doc, ts] of this.pending) for (const t of ts) keys.add(rowKey(t, doc));
      for (const p of plans) if (p.doc !== undefined && !p.inRows) for (const t of p.newTerms) keys.add(rowKey(t, p.doc));
    }
    const missing = [...keys].filter((k) => !this.rows.has(k));
    const values = await Promise.all(missing.map((k) => this.store.get('meta', k)));
    missing.forEach((k, i) => this.rows.set(k, parseRow(k, values[i])));
    // From here on nothing awaits: the state changes in memory and the writes are computed together.
    this.merging = new Map();
    const stored = new Set(this.pending.keys());
    const changed = new Set<string>();
    const pendingChanged = new Set<number>();
    for (const p of plans) {
      const c = p.change;
      if (p.doc === undefined) continue;
      const gone = c.after === undefined || p.newTerms.size === 0;
      if (p.inRows) {
        for (const t of p.oldTerms) if (!p.newTerms.has(t)) changed.add(this.edit(rowKey(t, p.doc), p.doc, false));
        for (const t of p.newTerms) if (!p.oldTerms.has(t)) changed.add(this.edit(rowKey(t, p.doc), p.doc, true));
      } else {
        if (gone) this.pending.delete(p.doc);
        else this.pending.set(p.doc, [...p.newTerms]);
        pendingChanged.add(p.doc);
      }
      if (gone || c.after === undefined) this.docs.remove(p.doc);
      else {
        const conversation = this.conversations.ensure(c.conversationId, out);
        const sender = this.senders.ensure(c.after.senderUserId, out);
        this.docs.set(p.doc, { conversation, seq: c.seq, sentAt: c.after.content.sentAt, sender, attachment: c.after.content.type === 'attachment' }, !p.inRows);
      }
    }
    if (merge) {
      for (const [doc, ts] of this.pending) for (const t of ts) changed.add(this.edit(rowKey(t, doc), doc, true));
      for (const doc of this.pending.keys()) pendingChanged.add(doc);
      this.merging = new Map(this.pending);
      this.pending.clear();
    }
    for (const doc of pendingChanged) {
      const ts = this.pending.get(doc);
      const e = this.docs.get(doc);
      if (ts !== undefined && e !== undefined) {
        const fields = [e.conversation, e.seq, e.sentAt, e.sender * 2 + (e.attachment ? 1 : 0)].reduce((v, n) => writeUint(v, n), '');
        out.push({ type: 'put', table: 'meta', key: pendingKey(doc), value: [fields, ...ts].join(' ') });
      }
      else if (stored.has(doc)) out.push({ type: 'delete', table: 'meta', key: pendingKey(doc) });
    }
    for (const key of changed) {
      const row = this.rows.get(key);
      out.push(row === null || row === undefined || row.docs.length === 0 ? { type: 'delete', table: 'meta', key } : { type: 'put', table: 'meta', key, value: encodeAscending(row.docs, row.base) });
    }
    if (merge) {
      const w = out.find((x) => x.key.startsWith(POSTING_PREFIX)) ?? out.find((x) => x.key.startsWith(DOC_PREFIX));
      if (w !== undefined) this.mergeCheck = { key: w.key, value: w.type === 'put' ? w.value : undefined };
    }
    this.docs.takeWrites(out, merge);
    const unused = this.docs.takeUnused();
    for (const n of unused.conversations) this.conversations.remove(n, out);
    for (const n of unused.senders) this.senders.remove(n, out);
    this.docs.next = Math.max(this.docs.next, next);
    return out;
  }

  /** Adds or removes a document in a cached term row; returns the row's key. */
  private edit(key: string, doc: number, add: boolean): string {
    const base = (doc >> POSTING_BLOCK_BITS) << POSTING_BLOCK_BITS;
    const row = this.rows.get(key) ?? { docs: [], base };
    this.rows.set(key, row);
    const docs = row.docs;
    const last = docs.at(-1);
    if (add && (last === undefined || last < doc)) docs.push(doc);
    else {
      let i = 0;
      while (i < docs.length && (docs[i] as number) < doc) i++;
      if (add && docs[i] !== doc) docs.splice(i, 0, doc);
      if (!add && docs[i] === doc) docs.splice(i, 1);
    }
    return key;
  }
}

/** A stored term row; one that does not read counts as empty (it is then rewritten with what the index knows). */
function parseRow(key: string, value: string | undefined): Row | null {
  const block = Number.parseInt(key.slice(key.lastIndexOf('/') + 1), 36);
  const base = block << POSTING_BLOCK_BITS;
  if (value === undefined) return null;
  const docs = decodeAscending(value, base);
  return docs === undefined ? null : { docs, base };
}
