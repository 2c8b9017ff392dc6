import type { StoreEntry, StoreWrite } from '../store/store.js';
import { readUints, unzigzag, writeInt, writeUint } from './codec.js';

/**
 * The search index's document table: every indexed history entry has a
 * document number on this device (allocated in order; after a restart, the
 * numbers above the highest one left may be given again — their entries
 * were deleted, and their term rows with them), and this table maps it to
 * where the entry is
 * and what a query filters and sorts by — conversation, seq, sentAt, sender,
 * whether it is an attachment. Conversations and senders are numbered too
 * (IdTable), so an entry costs a few characters. Stored in blocks of 32
 * documents (`sd/<block>`), each block rewritten whole from memory when one
 * of its documents changes (a new entry waits in its pending row for the
 * next merge, search-index.ts); the whole table is kept in memory while the
 * client runs (about 80 bytes per entry), so a query sorts candidates and
 * applies filters without reading the store.
 */

export const DOC_PREFIX = 'sd/';
export const CONVERSATION_PREFIX = 'sc/';
export const SENDER_PREFIX = 'su/';
export const DOC_BLOCK_BITS = 5;
const BLOCK_SIZE = 1 << DOC_BLOCK_BITS;
/** Conversation and user ids (base64url). */
const ID = /^[A-Za-z0-9_-]{1,200}$/;

export interface DocEntry {
  readonly conversation: number;
  readonly seq: number;
  readonly sentAt: number;
  readonly sender: number;
  readonly attachment: boolean;
}

/** A small number for each id (conversation, sender), stored as `<prefix><n>` → id. */
export class IdTable {
  private readonly ids: Array<string | undefined> = [];
  private readonly numbers = new Map<string, number>();

  constructor(private readonly prefix: string) {}

  /** Rows that do not read (never written by us) are skipped. */
  load(rows: readonly StoreEntry[]): void {
    for (const row of rows) {
      const n = Number.parseInt(row.key.slice(this.prefix.length), 36);
      if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffff || !ID.test(row.value) || this.numbers.has(row.value)) continue;
      this.ids[n] = row.value;
      this.numbers.set(row.value, n);
    }
  }

  numberOf(id: string): number | undefined {
    return this.numbers.get(id);
  }

  idOf(n: number): string | undefined {
    return this.ids[n];
  }

  /** Forgets a number no entry uses any more (its row deleted in `out`): no id outlives its last message in the index. */
  remove(n: number, out: StoreWrite[]): void {
    const id = this.ids[n];
    if (id === undefined) return;
    this.numbers.delete(id);
    this.ids[n] = undefined;
    out.push({ type: 'delete', table: 'meta', key: `${this.prefix}${n.toString(36)}` });
  }

  /** The id's number, allocated (and its row added to `out`) if it has none. */
  ensure(id: string, out: StoreWrite[]): number {
    const known = this.numbers.get(id);
    if (known !== undefined) return known;
    const n = this.ids.length;
    this.ids[n] = id;
    this.numbers.set(id, n);
    out.push({ type: 'put', table: 'meta', key: `${this.prefix}${n.toString(36)}`, value: id });
    return n;
  }
}

export class DocTable {
  private conversation = new Int32Array(1024).fill(-1);
  private sender = new Int32Array(1024);
  private seq = new Float64Array(1024);
  private sentAt = new Float64Array(1024);
  private attachment = new Uint8Array(1024);
  /** conversation → seq → document (numeric keys: about half the memory of one map keyed by strings). */
  private readonly bySeq = new Map<number, Map<number, number>>();
  private count = 0;
  /** Entries per conversation and per sender number; those that reached none since the last `takeUnused`. */
  private readonly uses = { conversation: new Map<number, number>(), sender: new Map<number, number>() };
  private readonly unused = { conversation: new Set<number>(), sender: new Set<number>() };
  /** The next document number: above every one in the table. */
  next = 0;
  private readonly dirty = new Set<number>();
  /** Blocks changed only by new entries whose pending rows hold them: written at the next merge. */
  private readonly deferred = new Set<number>();

  get size(): number {
    return this.count;
  }

  get(doc: number): DocEntry | undefined {
    const conversation = doc < this.conversation.length ? (this.conversation[doc] ?? -1) : -1;
    if (conversation < 0) return undefined;
    return { conversation, seq: this.seq[doc] ?? 0, sentAt: this.sentAt[doc] ?? 0, sender: this.sender[doc] ?? 0, attachment: this.attachment[doc] === 1 };
  }

  /** The conversation number of a document (-1: none), without building an entry. */
  conversationOf(doc: number): number {
    return doc < this.conversation.length ? (this.conversation[doc] ?? -1) : -1;
  }

  sentAtOf(doc: number): number {
    return this.sentAt[doc] ?? 0;
  }

  docOf(conversation: number, seq: number): number | undefined {
    return this.bySeq.get(conversation)?.get(seq);
  }

  /** `defer`: the entry is also in its pending row, so its block need not be written until the merge (see takeWrites). */
  set(doc: number, e: DocEntry, defer = false): void {
    this.grow(doc);
    const old = this.get(doc);
    if (old !== undefined) this.forget(old);
    this.use('conversation', e.conversation, 1);
    this.use('sender', e.sender, 1);
    this.conversation[doc] = e.conversation;
    this.seq[doc] = e.seq;
    this.sentAt[doc] = e.sentAt;
    this.sender[doc] = e.sender;
    this.attachment[doc] = e.attachment ? 1 : 0;
    let seqs = this.bySeq.get(e.conversation);
    if (seqs === undefined) this.bySeq.set(e.conversation, (seqs = new Map()));
    seqs.set(e.seq, doc);
    this.count++;
    this.next = Math.max(this.next, doc + 1);
    (defer ? this.deferred : this.dirty).add(doc >> DOC_BLOCK_BITS);
  }

  remove(doc: number): void {
    const old = this.get(doc);
    if (old === undefined) return;
    this.forget(old);
    this.conversation[doc] = -1;
    this.dirty.add(doc >> DOC_BLOCK_BITS);
  }

  private forget(old: DocEntry): void {
    const seqs = this.bySeq.get(old.conversation);
    if (seqs?.delete(old.seq) === true) this.count--;
    if (seqs?.size === 0) this.bySeq.delete(old.conversation);
    this.use('conversation', old.conversation, -1);
    this.use('sender', old.sender, -1);
  }

  private use(kind: 'conversation' | 'sender', n: number, change: number): void {
    const count = (this.uses[kind].get(n) ?? 0) + change;
    if (count > 0) {
      this.uses[kind].set(n, count);
      this.unused[kind].delete(n);
    } else {
      this.uses[kind].delete(n);
      this.unused[kind].add(n);
    }
  }

  /** The conversation and sender numbers no entry uses since they were last asked for. */
  takeUnused(): { conversations: number[]; senders: number[] } {
    const out = { conversations: [...this.unused.conversation], senders: [...this.unused.sender] };
    this.unused.conversation.clear();
    this.unused.sender.clear();
    return out;
  }

  /**
   * The writes of every block changed since the last call (a block left
   * empty is deleted); with `all`, also those changed only by deferred
   * entries.
   */
  takeWrites(out: StoreWrite[], all: boolean): void {
    if (all) for (const block of this.deferred) this.dirty.add(block);
    if (all) this.deferred.clear();
    for (const block of this.dirty) {
      const key = `${DOC_PREFIX}${block.toString(36)}`;
      const value = this.encodeBlock(block);
      out.push(value.length === 0 ? { type: 'delete', table: 'meta', key } : { type: 'put', table: 'meta', key, value });
    }
    this.dirty.clear();
  }

  /** Per document: its distance from the previous one (minus one), conversation, seq, sentAt as a change from the previous, sender and attachment flag. */
  private encodeBlock(block: number): string {
    let out = '';
    let prevDoc = (block << DOC_BLOCK_BITS) - 1;
    let prevSentAt = 0;
    const end = Math.min(this.conversation.length, (block + 1) << DOC_BLOCK_BITS);
    for (let doc = block << DOC_BLOCK_BITS; doc < end; doc++) {
      const e = this.get(doc);
      if (e === undefined) continue;
      out = writeUint(out, doc - prevDoc - 1);
      out = writeUint(out, e.conversation);
      out = writeUint(out, e.seq);
      out = writeInt(out, e.sentAt - prevSentAt);
      out = writeUint(out, e.sender * 2 + (e.attachment ? 1 : 0));
      prevDoc = doc;
      prevSentAt = e.sentAt;
    }
    return out;
  }

  /** Loads stored blocks; a block that does not read is skipped whole (its messages are then not found until indexed again). */
  load(rows: readonly StoreEntry[]): void {
    for (const row of rows) {
      const block = Number.parseInt(row.key.slice(DOC_PREFIX.length), 36);
      const n = readUints(row.value);
      if (!Number.isSafeInteger(block) || block < 0 || n === undefined || n.length % 5 !== 0) continue;
      let doc = (block << DOC_BLOCK_BITS) - 1;
      let sentAt = 0;
      const entries: Array<[number, DocEntry]> = [];
      for (let i = 0; i < n.length; i += 5) {
        doc += (n[i] as number) + 1;
        sentAt += unzigzag(n[i + 3] as number);
        const flags = n[i + 4] as number;
        entries.push([doc, { conversation: n[i + 1] as number, seq: n[i + 2] as number, sentAt, sender: Math.floor(flags / 2), attachment: flags % 2 === 1 }]);
      }
      if (doc >= (block + 1) * BLOCK_SIZE || entries.some(([, e]) => e.seq < 1 || e.sentAt < 0 || e.conversation > 0xffffff)) continue;
      for (const [d, e] of entries) this.set(d, e);
    }
    this.dirty.clear();
  }

  private grow(doc: number): void {
    if (doc < this.conversation.length) return;
    let size = this.conversation.length;
    while (size <= doc) size *= 2;
    const conversation = new Int32Array(size).fill(-1);
    conversation.set(this.conversation);
    this.conversation = conversation;
    this.sender = copy(new Int32Array(size), this.sender);
    this.seq = copy(new Float64Array(size), this.seq);
    this.sentAt = copy(new Float64Array(size), this.sentAt);
    this.attachment = copy(new Uint8Array(size), this.attachment);
  }
}

function copy<T extends Int32Array | Float64Array | Uint8Array>(to: T, from: T): T {
  to.set(from as never);
  return to;
}
