import { encodeContent, newContentId } from '@parley/crypto';
import type { ReceiptContent } from '@parley/crypto';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import type { ReadReceiptsMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import type { ContentHandler, IncomingContent, InboxBatch } from '../sync/content-handlers.js';
import type { ConversationMember, Message, MessageStatus, ReceiptSummary, UserRef } from '../types.js';
import { loadAllReceipts, putReceipts, putReceiptSetting, readReceipts, readReceiptSetting } from './receipt-records.js';
import type { ReceiptsRecord, UserReceipt } from './receipt-records.js';

/** Default wait between a message arriving (or being read) and the receipt covering it. */
export const DEFAULT_RECEIPT_DELAY_MS = 1_000;
/** Status changes are re-emitted for at most this many of the newest messages a receipt covers. */
const MAX_REEMITTED = 500;

const NONE: UserReceipt = { delivered: 0, read: 0 };
/** The lock key the setting is changed under (not a group id: those are base64url). */
const SETTING_LOCK = 'settings/read-receipts';

/**
 * Delivery and read receipts. Each device sends, per conversation, one
 * cumulative `receipt` (everything it stored up to `delivered`, and — while
 * the user shares read receipts — the read position) at most once per
 * `delayMs` after a message from another user arrived or the read position
 * moved; the last change is always covered. Never for receipts or typing,
 * never in the self group. Receivers keep, per conversation and per user,
 * the highest delivered and read seqs (receipt-records.ts) and derive the
 * status of this user's messages from them; a receipt from this user's
 * other device moves this device's read position.
 */
export class Receipts implements ContentHandler {
  private records = new Map<GroupId, ReceiptsRecord>();
  /** Other member users per conversation (for "read by 3 of 5" and the status). */
  private readonly others = new Map<GroupId, UserId[]>();
  private readOn = true;
  private readonly timers = new Map<GroupId, ReturnType<typeof setTimeout>>();
  /** What this device last sent per conversation (memory only: after a restart one receipt may repeat). */
  private readonly sent = new Map<GroupId, UserReceipt>();
  private readonly sending = new Map<GroupId, Promise<void>>();
  /** Conversations whose receipt could not leave (offline): sent after the next sync. */
  private readonly unsent = new Set<GroupId>();
  /** Conversations whose receipts waited because they were pending message requests (sent once accepted). */
  private readonly heldForRequest = new Set<GroupId>();
  /** Receipts as they were before a run of changes whose status events are not out yet. */
  private readonly before = new Map<GroupId, ReceiptsRecord>();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly delayMs: number,
  ) {}

  /** Reads the receipts, the setting and the member lists (at session start). */
  async load(): Promise<void> {
    const store = this.core.repo.store;
    this.records = await loadAllReceipts(store);
    this.readOn = (await readReceiptSetting(store)).on;
    for (const c of await this.core.repo.conversations()) this.noteMembers(c.id, c.members);
  }

  /* ---------- the setting ---------- */

  async readReceipts(): Promise<boolean> {
    this.core.session();
    return (await readReceiptSetting(this.core.repo.store)).on;
  }

  /**
   * Off: receipts carry `delivered` only, others' read positions are not
   * shown, typing is neither sent nor shown. Stored here, then sent to the
   * user's other devices through the self group (the latest change wins).
   */
  async setReadReceipts(on: boolean): Promise<void> {
    const { self } = this.core.session();
    if (typeof on !== 'boolean') throw new ClientError('bad_request', 'on must be a boolean');
    const setting = await this.core.locks.run(SETTING_LOCK, async () => {
      const held = await readReceiptSetting(this.core.repo.store);
      // Strictly later than what this device holds, even if its clock went back.
      const next = { on, updatedAt: Math.max(Date.now(), held.updatedAt + 1) };
      const batch = new StoreBatch();
      putReceiptSetting(batch, next);
      await this.core.repo.commit(batch);
      this.readOn = on;
      return next;
    });
    try {
      const selfConv = await this.core.repo.conversation(self.id);
      if (selfConv?.status === 'active' && (await this.state.load(self.id)).memberDevices().length > 1) {
        const message: ReadReceiptsMessage = { kind: 'read_receipts', on: setting.on, updatedAt: setting.updatedAt };
        await this.outbox.sendPlaintext(self.id, encodeSelfMessage(message), []);
      }
    } catch (err) {
      // Stored here; the other devices learn it at the next change.
      this.core.emitError('account_key', err);
    }
  }

  /** The setting from another device of this user (self group): kept if newer than this device's. */
  async applySetting(setting: ReadReceiptsMessage): Promise<() => void> {
    await this.core.locks.run(SETTING_LOCK, async () => {
      const held = await readReceiptSetting(this.core.repo.store);
      if (setting.updatedAt <= held.updatedAt) return;
      const batch = new StoreBatch();
      putReceiptSetting(batch, { on: setting.on, updatedAt: setting.updatedAt });
      await this.core.repo.commit(batch);
      this.readOn = setting.on;
    });
    return () => undefined;
  }

  get readReceiptsOn(): boolean {
    return this.readOn;
  }

  /* ---------- sending ---------- */

  noteMembers(conversationId: GroupId, members: readonly ConversationMember[]): void {
    const me = this.core.current()?.account.userId;
    this.others.set(
      conversationId,
      members.filter((m) => m.userId !== me).map((m) => m.userId),
    );
  }

  /** A message was stored or changed: one from another user is covered by the next receipt. */
  noteMessage(message: Message): void {
    const me = this.core.current()?.account.userId;
    if (message.outgoing || message.sender.userId === me || message.content.type === 'notice') return;
    this.schedule(message.conversationId);
  }

  /** The read position moved (markRead). */
  noteRead(conversationId: GroupId): void {
    if (this.readOn) this.schedule(conversationId);
  }

  /** A conversation changed: a request held receipts back and is accepted now, so they go. */
  noteAccepted(conversationId: GroupId): void {
    if (this.heldForRequest.delete(conversationId)) this.schedule(conversationId);
  }

  /** Connected again: receipts that could not leave go now. */
  onSynced(): void {
    for (const id of this.unsent) this.schedule(id);
    this.unsent.clear();
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(conversationId: GroupId): void {
    if (conversationId === this.core.hiddenGroup() || this.core.isClosed()) return;
    if (this.delayMs <= 0) {
      this.flush(conversationId);
      return;
    }
    // Not pushed back by later triggers: a steady stream still gets a receipt every delayMs.
    if (this.timers.has(conversationId)) return;
    this.timers.set(
      conversationId,
      setTimeout(() => {
        this.timers.delete(conversationId);
        this.flush(conversationId);
      }, this.delayMs),
    );
  }

  /** Sends the conversation's receipt, after any still in flight (one at a time per conversation). */
  private flush(conversationId: GroupId): void {
    const prev = this.sending.get(conversationId) ?? Promise.resolve();
    const next = prev.then(() => this.sendNow(conversationId)).catch((err: unknown) => {
      if (!this.core.isClosed()) this.core.emitError('internal', err, { conversationId });
    });
    this.sending.set(conversationId, next);
    void next.then(() => {
      if (this.sending.get(conversationId) === next) this.sending.delete(conversationId);
    });
  }

  private async sendNow(conversationId: GroupId): Promise<void> {
    const session = this.core.current();
    if (session === undefined || this.core.isClosed()) return;
    const conv = await this.core.repo.conversation(conversationId);
    if (conv?.status !== 'active' || conv.request === 'deleted') return;
    if (conv.request === 'pending') {
      // A pending message request (people/) tells its sender nothing — not even that it arrived — until accepted.
      this.heldForRequest.add(conversationId);
      return;
    }
    const delivered = Math.max(conv.lastSeq, ...conv.ownSeqs);
    const read = this.readOn ? Math.min(conv.readSeq, delivered) : undefined;
    const last = this.sent.get(conversationId) ?? NONE;
    if (delivered <= last.delivered && (read === undefined || read <= last.read)) return;
    if (!session.connection.isReady) {
      this.unsent.add(conversationId);
      return;
    }
    const content: ReceiptContent = { type: 'receipt', v: 1, id: newContentId(), sentAt: Date.now(), delivered, ...(read === undefined ? {} : { read }) };
    try {
      // Like any application message (the MLS state stored before it leaves), but no history entry.
      await this.outbox.sendPlaintext(conversationId, encodeContent(content), [], undefined, { readyTimeoutMs: 0 });
    } catch (err) {
      if (err instanceof ClientError && (err.code === 'disconnected' || err.code === 'closed')) {
        this.unsent.add(conversationId);
        return;
      }
      if (err instanceof ClientError && err.code === 'not_active') return;
      throw err;
    }
    this.sent.set(conversationId, { delivered: Math.max(last.delivered, delivered), read: Math.max(last.read, read ?? 0) });
  }

  /* ---------- receiving ---------- */

  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    const c = incoming.content;
    if (c.type !== 'receipt') return;
    const { conversationId, sender } = incoming;
    const me = this.core.session().account.userId;
    // Cumulative up to a seq the sender had stored: always below the receipt's own seq.
    if (c.delivered >= incoming.seq || (c.read ?? 0) > c.delivered) {
      into.afterCommit(() => this.core.emitError('invalid_change', new ClientError('bad_request', 'a receipt beyond the conversation'), { conversationId, seq: incoming.seq }));
      return;
    }
    if (sender.userId === me) {
      // This user's other device read up to `read`: so did this user, here too.
      const conv = into.conv;
      const known = Math.max(conv.lastSeq, conv.lastMessageSeq ?? 0, ...conv.ownSeqs);
      const readSeq = Math.min(c.read ?? 0, known);
      if (readSeq <= conv.readSeq) return;
      into.conv = { ...conv, readSeq, unread: await this.core.repo.countUnread(conversationId, readSeq, me, into.batch, conv.lastMessageSeq) };
      into.afterCommit(() => this.core.emit('conversation', this.state.toConversation(into.conv)));
      return;
    }
    const before = await readReceipts(this.core.repo.store, conversationId, into.batch);
    const prev = before.get(sender.userId) ?? NONE;
    const next = { delivered: Math.max(prev.delivered, c.delivered), read: Math.max(prev.read, c.read ?? 0) };
    if (next.delivered === prev.delivered && next.read === prev.read) return;
    const updated = new Map(before).set(sender.userId, next);
    putReceipts(into.batch, conversationId, updated);
    into.afterCommit(() => this.stored(conversationId, updated));
  }

  /** A receipt is stored: statuses change; the events for a run of receipts go out once, just after it. */
  private stored(conversationId: GroupId, record: ReceiptsRecord): void {
    if (!this.before.has(conversationId)) {
      this.before.set(conversationId, this.records.get(conversationId) ?? new Map());
      setTimeout(() => void this.emitChanged(conversationId).catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err, { conversationId })), 0);
    }
    this.records.set(conversationId, record);
  }

  private async emitChanged(conversationId: GroupId): Promise<void> {
    const old = this.before.get(conversationId) ?? new Map<UserId, UserReceipt>();
    this.before.delete(conversationId);
    const now = this.records.get(conversationId) ?? new Map<UserId, UserReceipt>();
    const a = this.lowest(conversationId, old);
    const b = this.lowest(conversationId, now);
    if (a.delivered === b.delivered && a.read === b.read) return;
    const me = this.core.current()?.account.userId;
    if (me === undefined || this.core.isClosed()) return;
    const from = Math.min(a.delivered, a.read, b.delivered, b.read);
    const to = Math.max(a.delivered, a.read, b.delivered, b.read);
    const records = await this.core.repo.messages(conversationId, { afterSeq: from, beforeSeq: to + 1, limit: MAX_REEMITTED, fromEnd: true });
    for (const r of records) {
      if (r.senderUserId !== me || r.content.type === 'notice') continue;
      if (this.statusWith(conversationId, r.seq, old) !== this.statusWith(conversationId, r.seq, now)) this.core.emit('message', this.state.toMessage(r));
    }
  }

  /* ---------- views ---------- */

  /** Lowest delivered and read seqs over the other members (what every one of them reached). */
  private lowest(conversationId: GroupId, record: ReceiptsRecord): UserReceipt {
    const others = this.others.get(conversationId) ?? [];
    if (others.length === 0) return NONE;
    let delivered = Number.MAX_SAFE_INTEGER;
    let read = Number.MAX_SAFE_INTEGER;
    for (const u of others) {
      const r = record.get(u) ?? NONE;
      delivered = Math.min(delivered, r.delivered);
      read = Math.min(read, r.read);
    }
    return { delivered, read };
  }

  private statusWith(conversationId: GroupId, seq: number, record: ReceiptsRecord): MessageStatus {
    const low = this.lowest(conversationId, record);
    if (this.readOn && low.read >= seq) return 'read';
    return low.delivered >= seq ? 'delivered' : 'sent';
  }

  /**
   * The status of a message of this user (sent from any of its devices):
   * 'read' once every other member read it (while this user shares read
   * receipts), 'delivered' once a device of every other member stored it,
   * else 'sent'; null for others' messages and notices.
   */
  statusOf(m: MessageRecord): MessageStatus | null {
    const me = this.core.current()?.account.userId;
    if (m.senderUserId !== me || m.content.type === 'notice') return null;
    return this.statusWith(m.conversationId, m.seq, this.records.get(m.conversationId) ?? new Map());
  }

  /** Who of the other members stored and read `seq` ("Read by 3 of 5"). */
  async summary(conversationId: GroupId, seq: number): Promise<ReceiptSummary> {
    this.state.visible(conversationId);
    if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new ClientError('bad_request', 'seq must be a whole number ≥ 0');
    const { account, directory } = this.core.session();
    const conv = await this.state.record(conversationId);
    const record = await readReceipts(this.core.repo.store, conversationId);
    const others = conv.members.filter((m) => m.userId !== account.userId);
    const ref = (m: ConversationMember): UserRef => ({ userId: m.userId, username: m.username ?? directory.usernameOf(m.userId) ?? '' });
    const readBy = this.readOn ? others.filter((m) => (record.get(m.userId) ?? NONE).read >= seq).map(ref) : [];
    const deliveredTo = others.filter((m) => (record.get(m.userId) ?? NONE).delivered >= seq).map(ref);
    return { readBy, deliveredTo, others: others.length };
  }
}
