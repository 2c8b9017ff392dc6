import { DISAPPEAR_TIMERS_MS, encodeContent, newContentId } from '@parley/crypto';
import type { SettingsContent } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { deleteMediaFor } from '../media/media-records.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord, MessageRecord } from '../store/records.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import type { Conversation } from '../types.js';
import { deleteExpiry, dueExpiries, nextExpiry, putExpiry } from './expiry-index.js';
import type { ExpiryEntry } from './expiry-index.js';

/** Timer changes a conversation record remembers (to give a late message the timer of its seq). */
export const MAX_TIMER_CHANGES = 16;
/** setTimeout's largest delay; a later expiry is re-checked then. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The timer in force for a message at `seq`: the latest change with a lower seq (null: off, or unknown). */
export function timerAt(conv: Pick<ConversationRecord, 'disappearChanges'>, seq: number): number | null {
  let ms: number | null = null;
  for (const c of conv.disappearChanges ?? []) if (c.seq < seq) ms = c.ms;
  return ms;
}

/** The record once the setting at `seq` is known: kept in seq order (a late one slots in), the newest is in force. */
export function withTimerChange(conv: ConversationRecord, seq: number, ms: number | null): ConversationRecord {
  const changes = [...(conv.disappearChanges ?? []).filter((c) => c.seq !== seq), { seq, ms }].sort((a, b) => a.seq - b.seq).slice(-MAX_TIMER_CHANGES);
  return { ...conv, disappearChanges: changes, disappearAfterMs: changes.at(-1)?.ms ?? null };
}

export function isAllowedTimer(ms: unknown): ms is number | null {
  return ms === null || (typeof ms === 'number' && (DISAPPEAR_TIMERS_MS as readonly number[]).includes(ms));
}

/**
 * Disappearing messages. Any member sets a conversation's timer with a
 * `settings` message (a history entry: "X set disappearing messages to 1
 * hour"); every message sent after it (by group seq) gets
 * `expiresAt = min(sentAt, receivedAt) + timer` — counted from when it was
 * SENT, not read: the same moment on every device and at the server, which
 * can only enforce a time it knows (the server never learns what was read),
 * and a message nobody opens still goes. Each device then deletes the message
 * and its media at `expiresAt`: an index of expiry keys (expiry-index.ts), a
 * timer for the next one, a sweep at start. Every device that processes a
 * setting (the sender's included) tells the server, which then keeps the
 * group's messages no longer than the timer (PUT /v1/groups/:id/retention,
 * with the setting's seq so a late device cannot undo a newer one).
 */
export class Disappearing {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt: number | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    /** This device's clock (ms); tests pass their own. */
    private readonly now: () => number,
  ) {}

  async set(conversationId: GroupId, ms: number | null): Promise<Conversation> {
    this.core.session();
    this.state.visible(conversationId);
    if (!isAllowedTimer(ms)) {
      throw new ClientError('bad_request', 'not an allowed disappearing-message timer', { detail: { allowed: [null, ...DISAPPEAR_TIMERS_MS] } });
    }
    const conv = await this.state.record(conversationId);
    if (conv.status !== 'active') throw new ClientError('not_active', 'this device is no longer in the conversation');
    const content: SettingsContent = { type: 'settings', v: 1, id: newContentId(), sentAt: Date.now(), disappearAfterMs: ms };
    const record = await this.outbox.sendPlaintext(conversationId, encodeContent(content), [], content);
    if (record === undefined) throw new ClientError('internal', 'the setting was not recorded');
    this.core.emit('message', this.state.toMessage(record));
    return this.state.toConversation(await this.state.record(conversationId));
  }

  /**
   * A history entry about to be stored, in its batch: a setting changes the
   * conversation's timer (and is reported to the server once stored); any
   * other entry sent under a timer gets its expiry and an index key.
   */
  async beforeStore(into: InboxBatch, record: MessageRecord): Promise<MessageRecord> {
    const c = record.content;
    if (c.type === 'settings') {
      const before = into.conv.disappearAfterMs ?? null;
      into.conv = withTimerChange(into.conv, record.seq, c.disappearAfterMs);
      const { conversationId, seq } = record;
      into.afterCommit(() => {
        this.reportRetention(conversationId, c.disappearAfterMs, seq);
        if ((into.conv.disappearAfterMs ?? null) !== before) this.emitConversation(conversationId);
      });
      return record;
    }
    if (c.type !== 'text' && c.type !== 'attachment' && c.type !== 'voice') return record;
    const ms = timerAt(into.conv, record.seq);
    if (ms === null) return record;
    const expiresAt = Math.min(c.sentAt, record.receivedAt) + ms;
    putExpiry(into.batch, record.conversationId, record.seq, expiresAt);
    into.afterCommit(() => this.schedule(expiresAt));
    return { ...record, expiresAt };
  }

  /** Sweeps what is due now and keeps a timer for the next expiry (session start). */
  start(): void {
    this.stopped = false;
    this.runSweep();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  /** Waits for a sweep in progress (and runs one now): for close() and tests. */
  async sweepNow(): Promise<void> {
    this.runSweep();
    await this.sweeping;
  }

  private runSweep(): void {
    this.sweeping = this.sweeping
      .then(() => this.sweep())
      .catch((err: unknown) => {
        if (!this.core.isClosed()) this.core.emitError('internal', err);
      });
  }

  /** A new expiry was stored: wake up for it if it is sooner than the timer set. */
  private schedule(expiresAt: number): void {
    if (this.stopped || this.core.isClosed()) return;
    if (this.timerAt !== undefined && this.timerAt <= expiresAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = expiresAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = undefined;
        this.runSweep();
      },
      Math.min(MAX_DELAY_MS, Math.max(0, expiresAt - this.now())),
    );
  }

  private async sweep(): Promise<void> {
    for (;;) {
      if (this.stopped || this.core.isClosed() || this.core.current() === undefined) return;
      const { due, bad } = await dueExpiries(this.core.repo.store, this.now());
      if (bad.length > 0) {
        // Our own index, unreadable: dropped (the message stays; it is not deleted on a guess).
        const batch = new StoreBatch();
        for (const key of bad) deleteExpiry(batch, key);
        await this.core.repo.commit(batch);
        this.core.emitError('internal', new ClientError('internal', `dropped ${bad.length} unreadable expiry index entries`));
      }
      if (due.length === 0) break;
      const byConversation = new Map<GroupId, ExpiryEntry[]>();
      for (const e of due) byConversation.set(e.conversationId, [...(byConversation.get(e.conversationId) ?? []), e]);
      for (const [conversationId, entries] of byConversation) await this.expire(conversationId, entries);
    }
    const next = await nextExpiry(this.core.repo.store);
    if (next !== undefined) this.schedule(next);
  }

  /** Deletes due messages of one conversation with their media and index keys, and fixes its record, in one batch. */
  private async expire(conversationId: GroupId, entries: readonly ExpiryEntry[]): Promise<void> {
    const me = this.core.session().account.userId;
    const result = await this.core.locks.run(conversationId, async () => {
      const batch = new StoreBatch();
      const seqs: number[] = [];
      let unread = 0;
      const conv = await this.core.repo.conversation(conversationId);
      for (const e of entries) {
        deleteExpiry(batch, e.key);
        const m = await this.core.repo.message(conversationId, e.seq);
        if (m === undefined || m.content.type === 'notice') continue;
        deleteMediaFor(batch, m.content);
        batch.deleteMessage(conversationId, e.seq);
        seqs.push(e.seq);
        if (conv !== undefined && e.seq > conv.readSeq && !m.outgoing && m.senderUserId !== me) unread++;
      }
      let updated: ConversationRecord | undefined;
      if (conv !== undefined && seqs.length > 0) {
        const lastMessageSeq = conv.lastMessageSeq !== null && seqs.includes(conv.lastMessageSeq) ? await this.lastRemaining(conversationId, conv.lastMessageSeq, new Set(seqs)) : conv.lastMessageSeq;
        updated = { ...conv, lastMessageSeq, unread: Math.max(0, conv.unread - unread) };
        batch.putConversation(updated);
      }
      await this.core.repo.commit(batch);
      return { seqs, updated };
    });
    if (result.seqs.length === 0) return;
    this.core.emit('expired', { conversationId, seqs: result.seqs.sort((a, b) => a - b) });
    if (result.updated !== undefined) this.core.emit('conversation', this.state.toConversation(result.updated));
  }

  /** The latest message below `below` that is not being deleted (notices never count), or null. */
  private async lastRemaining(conversationId: GroupId, below: number, gone: ReadonlySet<number>): Promise<number | null> {
    let before = below;
    for (;;) {
      const page = await this.core.repo.messages(conversationId, { beforeSeq: before, limit: 50, fromEnd: true });
      for (let i = page.length - 1; i >= 0; i--) {
        const m = page[i] as MessageRecord;
        if (m.content.type !== 'notice' && !gone.has(m.seq)) return m.seq;
      }
      const first = page[0];
      if (first === undefined || page.length < 50) return null;
      before = first.seq;
    }
  }

  /** Tells the server (idempotent; a newer setting at a higher seq wins there). Failures are reported, and other devices report it too. */
  private reportRetention(conversationId: GroupId, ms: number | null, seq: number): void {
    if (this.core.isClosed()) return;
    this.core.api.setGroupRetention(conversationId, ms === null ? null : Math.round(ms / 1000), seq).catch((err: unknown) => {
      // A device reading history after its removal is no longer asked: the members are.
      if (this.core.isClosed() || (err instanceof ClientError && err.code === 'not_member')) return;
      this.core.emitError('server', err, { conversationId, seq });
    });
  }

  private emitConversation(conversationId: GroupId): void {
    void this.core.repo
      .conversation(conversationId)
      .then((c) => {
        if (c !== undefined) this.core.emit('conversation', this.state.toConversation(c));
      })
      .catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err, { conversationId }));
  }
}
