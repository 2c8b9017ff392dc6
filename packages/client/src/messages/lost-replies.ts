import { z } from 'zod';
import { decodeContent, isHistoryContent } from '@parley/crypto';
import { BlobDigestSchema, bytesEqual, fromBase64Url, GroupIdSchema, toBase64Url } from '@parley/protocol';
import type { BlobDigest, GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import { StoreError } from '../store/store.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import type { Message } from '../types.js';

/**
 * Sends whose reply may be lost. Every history message is kept here (meta
 * table) from the moment it is encrypted — in the batch that stores the MLS
 * state, before the frame leaves — until the server's `ok` gives it a seq
 * (then it is forgotten in the batch that stores the message). If the reply
 * is lost (`disconnected`, delivery `unknown`), the entry stays: when the
 * server later delivers a payload byte-for-byte equal to the kept
 * ciphertext (our own message, which MLS does not let its sender decrypt),
 * the kept plaintext is stored as our message at that seq, and the entry
 * remembers the seq so that a Retry returns that message instead of sending
 * a second copy.
 */

const PREFIX = 'inflight/';
/** Entries older than this are dropped when read (the server keeps undelivered messages for days, not weeks). */
export const IN_FLIGHT_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000;

const Bytes = z.string().transform((s, ctx) => {
  const bytes = fromBase64Url(s);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'invalid base64url' });
    return z.NEVER;
  }
  return bytes;
});

const InFlightSchema = z.object({
  v: z.literal(1),
  conversationId: GroupIdSchema,
  contentId: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  ciphertext: Bytes,
  plaintext: Bytes,
  blobs: z.array(BlobDigestSchema).max(64),
  keptAt: z.number().int().min(0),
  /** Set once the server's copy came back: our message is stored at this seq. */
  seq: z.number().int().min(1).optional(),
});
export type InFlightRecord = Omit<z.output<typeof InFlightSchema>, 'v'>;

function keyOf(conversationId: GroupId, contentId: string): string {
  return `${PREFIX}${conversationId}/${contentId}`;
}

function put(batch: StoreBatch, r: InFlightRecord): void {
  const value = { v: 1, conversationId: r.conversationId, contentId: r.contentId, ciphertext: toBase64Url(r.ciphertext), plaintext: toBase64Url(r.plaintext), blobs: r.blobs, keptAt: r.keptAt, ...(r.seq === undefined ? {} : { seq: r.seq }) };
  batch.writes.push({ type: 'put', table: 'meta', key: keyOf(r.conversationId, r.contentId), value: JSON.stringify(value) });
}

function remove(batch: StoreBatch, conversationId: GroupId, contentId: string): void {
  batch.writes.push({ type: 'delete', table: 'meta', key: keyOf(conversationId, contentId) });
}

export class LostReplies {
  /** The connection's backlog has been processed since it last (re)connected. */
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private pruned = false;
  /** Sends of this session still waiting for their reply: kept, but not lost (yet). */
  private readonly sending = new Set<string>();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
  ) {}

  /** Fed with every `connection` event: `synced` only once the backlog after the latest connect is processed. */
  noteConnection(state: string): void {
    this.synced = state === 'synced';
    if (!this.synced) return;
    for (const w of this.syncWaiters.splice(0)) w();
    const first = !this.pruned;
    this.pruned = true;
    (async () => {
      if (first) await this.prune();
      await this.reconcileAll();
    })().catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err));
  }

  /** Every conversation with a send whose reply was lost: see reconcile. */
  async reconcileAll(): Promise<void> {
    const rows = await this.core.repo.store.list('meta', { prefix: PREFIX });
    const conversations = new Set<GroupId>();
    for (const row of rows) {
      try {
        const kept = parse(row.key, row.value);
        if (kept.seq === undefined) conversations.add(kept.conversationId);
      } catch {
        // A damaged entry is dropped by prune.
      }
    }
    for (const id of conversations) await this.reconcile(id);
  }

  /**
   * After a sync: the server does not deliver a device's own message back to
   * it when it had acknowledged everything before it (it moves the device's
   * cursor past it). So seqs above everything this device received, up to
   * the group's last seq, that it never got are its own lost sends — when
   * there are exactly as many of them as kept sends, they are stored in send
   * order. The cursor is not moved: should a frame arrive at such a seq after
   * all (someone else's message that was in flight), it is processed as
   * usual and replaces the guess, and a Retry sends again.
   */
  async reconcile(conversationId: GroupId): Promise<void> {
    if (this.core.isClosed()) return;
    let kept = await this.unmatched(conversationId);
    if (kept.length === 0) return;
    const info = await this.core.api.group(conversationId);
    const lastSeq = info.lastSeq;
    if (lastSeq === undefined) return;
    const emit = await this.core.locks.run(conversationId, async () => {
      // Again under the lock: the inbox may have matched some meanwhile (gap, ownCopy).
      kept = await this.unmatched(conversationId);
      const conv = await this.core.repo.conversation(conversationId);
      if (kept.length === 0 || conv === undefined || conv.status !== 'active' || lastSeq - conv.lastSeq > kept.length + conv.ownSeqs.length) return undefined;
      const missing: number[] = [];
      for (let seq = conv.lastSeq + 1; seq <= lastSeq; seq++) if (!conv.ownSeqs.includes(seq) && (await this.core.repo.message(conversationId, seq)) === undefined) missing.push(seq);
      if (missing.length !== kept.length) return undefined;
      const batch = new StoreBatch();
      const into: InboxBatch = { batch, conv, message: (seq) => this.core.repo.message(conversationId, seq, batch), afterCommit: () => undefined };
      const messages: Message[] = [];
      for (const [i, entry] of kept.entries()) {
        const record = await this.store(into, entry, missing[i] as number);
        if (record !== undefined) messages.push(this.state.toMessage(record));
      }
      await this.core.repo.commit(batch.putConversation({ ...into.conv, lastSeq: conv.lastSeq, ownSeqs: conv.ownSeqs }));
      return () => {
        for (const m of messages) this.core.emit('message', m);
      };
    });
    emit?.();
  }

  /**
   * Frames resume above seqs this device never received: the server skips a
   * device's own message when the device had acknowledged everything before
   * it, so seqs it holds no record of (not its known own seqs, nothing stored
   * there) are its own sends whose reply was lost — when there are exactly
   * as many as kept sends, they are stored there in send order.
   */
  async gap(into: InboxBatch, nextSeq: number): Promise<boolean> {
    const kept = await this.unmatched(into.conv.id);
    if (kept.length === 0 || nextSeq - 1 - into.conv.lastSeq > kept.length + into.conv.ownSeqs.length) return false;
    const missing: number[] = [];
    for (let seq = into.conv.lastSeq + 1; seq < nextSeq; seq++) if (!into.conv.ownSeqs.includes(seq) && (await into.message(seq)) === undefined) missing.push(seq);
    if (missing.length !== kept.length) return false;
    const messages: Message[] = [];
    for (const [i, entry] of kept.entries()) {
      const record = await this.store(into, entry, missing[i] as number);
      if (record !== undefined) messages.push(this.state.toMessage(record));
    }
    into.afterCommit(() => {
      for (const m of messages) this.core.emit('message', m);
    });
    return true;
  }

  /** Kept sends of a conversation not matched yet, in send order. */
  private async unmatched(conversationId: GroupId): Promise<InFlightRecord[]> {
    const kept: InFlightRecord[] = [];
    for (const row of await this.core.repo.store.list('meta', { prefix: `${PREFIX}${conversationId}/` })) {
      try {
        const r = parse(row.key, row.value);
        // A send still waiting for its reply is not lost: its `ok` will give it its seq.
        if (r.seq === undefined && !this.sending.has(row.key)) kept.push(r);
      } catch {
        continue;
      }
    }
    return kept.sort((a, b) => a.keptAt - b.keptAt);
  }

  /** Stores a kept send as this device's message at `seq` (in `into`) and marks the entry as matched. */
  private async store(into: InboxBatch, kept: InFlightRecord, seq: number): Promise<MessageRecord | undefined> {
    const { account } = this.core.session();
    const decoded = decodeContent(kept.plaintext);
    if (!decoded.ok || !isHistoryContent(decoded.content)) return undefined;
    const record = await this.state.prepareHistory(into, { conversationId: kept.conversationId, seq, senderUserId: account.userId, senderDeviceId: account.deviceId, outgoing: true, receivedAt: Date.now(), content: decoded.content, plaintext: kept.plaintext });
    into.batch.putMessage(record);
    into.conv = await this.state.withStoredMessage(into.conv, record, into.batch);
    // The ciphertext is no longer needed; the seq answers a Retry.
    put(into.batch, { ...kept, ciphertext: new Uint8Array(0), seq });
    return record;
  }

  /** Waits until the server's copy, if any, has been delivered: `disconnected` (not_sent) after `timeoutMs`. */
  whenSynced(timeoutMs: number, contentId: string): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(new ClientError('disconnected', 'not connected to the server', { detail: { delivery: 'not_sent', contentId } }));
      }, timeoutMs);
      this.syncWaiters.push(waiter);
    });
  }

  /** The outbox hooks for one history message (core/outbox.ts sendPlaintext `inFlight`). */
  hooks(conversationId: GroupId, contentId: string, plaintext: Uint8Array, blobs: readonly BlobDigest[]): { keep(batch: StoreBatch, ciphertext: Uint8Array): void; settle(batch: StoreBatch): void } {
    const key = keyOf(conversationId, contentId);
    return {
      keep: (batch, ciphertext) => {
        this.sending.add(key);
        put(batch, { conversationId, contentId, ciphertext, plaintext, blobs: [...blobs], keptAt: Date.now() });
      },
      settle: (batch) => {
        this.sending.delete(key);
        remove(batch, conversationId, contentId);
      },
    };
  }

  /** The send failed: if it was kept (its reply lost), it may now be matched. */
  failed(conversationId: GroupId, contentId: string): void {
    this.sending.delete(keyOf(conversationId, contentId));
  }

  /** The frame never left (delivery `not_sent`): nothing can come back. */
  async forget(conversationId: GroupId, contentId: string): Promise<void> {
    const batch = new StoreBatch();
    remove(batch, conversationId, contentId);
    await this.core.repo.commit(batch);
  }

  async get(conversationId: GroupId, contentId: string): Promise<InFlightRecord | undefined> {
    const key = keyOf(conversationId, contentId);
    const text = await this.core.repo.store.get('meta', key);
    return text === undefined ? undefined : parse(key, text);
  }

  /**
   * Our own message came back (MLS refused it as `own_message`): if it is a
   * kept send, store its plaintext as our message at `seq` in `into`'s batch
   * and emit it once stored. False: not one of ours that we kept.
   */
  async ownCopy(into: InboxBatch, seq: number, payload: Uint8Array): Promise<boolean> {
    const conversationId = into.conv.id;
    const rows = await this.core.repo.store.list('meta', { prefix: `${PREFIX}${conversationId}/` });
    for (const row of rows) {
      let kept: InFlightRecord;
      try {
        kept = parse(row.key, row.value);
      } catch {
        continue;
      }
      if (kept.seq !== undefined || !bytesEqual(kept.ciphertext, payload)) continue;
      const record = await this.store(into, kept, seq);
      if (record === undefined) return false;
      const message = this.state.toMessage(record);
      into.afterCommit(() => this.core.emit('message', message));
      return true;
    }
    return false;
  }

  /** A Retry found its message: the entry has done its work. */
  async done(conversationId: GroupId, contentId: string): Promise<void> {
    await this.forget(conversationId, contentId);
  }

  /** Drops entries past IN_FLIGHT_MAX_AGE_MS (called at start). */
  async prune(now = Date.now()): Promise<void> {
    const rows = await this.core.repo.store.list('meta', { prefix: PREFIX });
    const stale = rows.filter((row) => {
      try {
        return now - parse(row.key, row.value).keptAt > IN_FLIGHT_MAX_AGE_MS;
      } catch {
        return true;
      }
    });
    await this.core.repo.commit(new StoreBatch().deleteAll(stale.map((row) => ({ table: 'meta' as const, key: row.key }))));
  }
}

function parse(key: string, text: string): InFlightRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `meta/${key} is not JSON`, { cause: err });
  }
  const r = InFlightSchema.safeParse(json);
  if (!r.success) throw new StoreError('corrupt_record', `meta/${key} does not match its schema`);
  if (keyOf(r.data.conversationId, r.data.contentId) !== key) throw new StoreError('corrupt_record', `meta/${key} is filed under the wrong key`);
  return r.data;
}
