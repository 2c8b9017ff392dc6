import { decodeContent, encodeContent, newContentId } from '@parley/crypto';
import type { TypingContent } from '@parley/crypto';
import { readMlsFraming } from '@parley/protocol';
import type { GroupId, TypingServerFrame, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { putGroup } from '../core/group-state.js';
import type { GroupState } from '../core/group-state.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { Message } from '../types.js';

/** A 'started' is sent at most this often while the user keeps typing. */
export const TYPING_REFRESH_MS = 3_000;
/** A shown indicator goes away this long after the last 'started' unless refreshed. */
export const TYPING_EXPIRE_MS = 6_000;
/**
 * Typing messages this device sends in one epoch without a stored message
 * of its own in between. Each one moves this device's MLS sending ratchet a
 * generation; a device that misses them (offline: they are never stored)
 * must ratchet over them to read the next stored message, and ts-mls allows
 * at most 200 generations in one step (maximumForwardRatchetSteps in
 * crypto's ts-mls-engine.ts). Past this many, typing pauses until this
 * device sends a message or the epoch changes.
 */
export const MAX_TYPING_PER_RUN = 100;
/** A typing frame that waited longer than this behind the inbox (a backlog being processed) is stale: dropped undecrypted. */
export const TYPING_STALE_MS = 3_000;

/**
 * Typing indicators: ephemeral typing frames (an MLS application message
 * with a `typing` content, forwarded by the server to members' live devices
 * only, never stored). Off — neither sent nor shown — while the user does
 * not share read receipts.
 *
 * Receiving one decrypts it under the group lock, in the order of the
 * inbox (so it cannot ratchet past stored messages not yet processed), and
 * does NOT store the group state: a receiver's state that falls back to
 * before a typing message after a crash only derives those keys again (a
 * receiver never encrypts with them), and storing it would cost a durable
 * write per indicator per receiver. The next stored message stores the
 * state anyway. Senders store it before the frame leaves, like every send.
 */
export class Typing {
  private readonly mine = new Map<GroupId, { typing: boolean; at: number }>();
  private readonly runs = new Map<GroupId, { epoch: bigint; count: number }>();
  private readonly shown = new Map<string, { conversationId: GroupId; userId: UserId; timer: ReturnType<typeof setTimeout> }>();
  /** Whose typing is shown at all (people/: not a blocked user's). */
  keepsSender: (userId: UserId) => boolean = () => true;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly enabled: () => boolean,
  ) {}

  /** Throttled: 'started' at most every TYPING_REFRESH_MS, 'stopped' only after a 'started'. Never queued while offline. */
  async set(conversationId: GroupId, typing: boolean): Promise<void> {
    this.state.visible(conversationId);
    const { connection } = this.core.session();
    if (typeof typing !== 'boolean') throw new ClientError('bad_request', 'typing must be a boolean');
    if (!this.enabled()) return;
    const now = Date.now();
    const last = this.mine.get(conversationId);
    if (typing ? last?.typing === true && now - last.at < TYPING_REFRESH_MS : last?.typing !== true) return;
    this.mine.set(conversationId, { typing, at: now });
    if (!connection.isReady) return;
    await this.core.locks.run(conversationId, async () => {
      const conv = await this.state.record(conversationId);
      // A pending message request (people/) sends no typing until accepted.
      if (conv.status !== 'active' || conv.request !== undefined) return;
      const group = await this.state.load(conversationId);
      if (!group.active || group.hasPendingProposals || group.hasPendingCommit) return;
      const run = this.runs.get(conversationId);
      const count = run !== undefined && run.epoch === group.epoch ? run.count : 0;
      if (count >= MAX_TYPING_PER_RUN) return;
      const content: TypingContent = { type: 'typing', v: 1, id: newContentId(), sentAt: now, typing };
      const ciphertext = await group.encrypt(encodeContent(content));
      // Stored before it leaves: a crash must never reuse this ratchet generation.
      await this.core.repo.commit(putGroup(new StoreBatch(), conversationId, group));
      this.runs.set(conversationId, { epoch: group.epoch, count: count + 1 });
      connection.sendEphemeral({ t: 'typing', group: conversationId }, [ciphertext]);
    });
  }

  /** A message of this user or of another: an outgoing one ends this device's run and its typing; an incoming one hides its sender's indicator. */
  noteMessage(message: Message): void {
    if (message.outgoing) {
      this.runs.delete(message.conversationId);
      this.mine.delete(message.conversationId);
      return;
    }
    this.hide(message.conversationId, message.sender.userId);
  }

  /**
   * A typing frame as it arrives: the step to run in the inbox's order (so
   * it never ratchets past stored messages not processed yet), or nothing
   * when typing is off. A frame that waited too long behind a backlog is
   * dropped without decrypting it (the next stored message ratchets over it).
   */
  arrived(frame: TypingServerFrame, payload: Uint8Array): (() => Promise<void>) | undefined {
    if (!this.enabled() || frame.group === this.core.hiddenGroup()) return undefined;
    const at = Date.now();
    return async () => {
      if (Date.now() - at <= TYPING_STALE_MS) await this.receive(frame, payload);
    };
  }

  /** Anything that does not decrypt to a typing content is dropped silently. */
  private async receive(frame: TypingServerFrame, payload: Uint8Array): Promise<void> {
    const session = this.core.current();
    if (session === undefined || this.core.isClosed() || !this.enabled()) return;
    const conversationId = frame.group;
    if (conversationId === this.core.hiddenGroup()) return;
    try {
      // Only an application message: anything else would change the group state, which is not stored here.
      if (readMlsFraming(payload).contentType !== 'application') return;
    } catch {
      return;
    }
    const conv = await this.core.repo.conversation(conversationId);
    if (conv?.status !== 'active') return;
    const shown = await this.core.locks.run(conversationId, async () => {
      const group = await this.state.load(conversationId);
      // Another epoch: this device is behind or ahead (its keys for it are not the current ones). Epochs move; drop it.
      if (BigInt(frame.epoch) !== group.epoch || !group.active) return undefined;
      let result;
      try {
        result = await group.processIncoming(payload);
      } catch {
        return undefined;
      }
      if (result.kind !== 'application') return undefined;
      const decoded = decodeContent(result.plaintext);
      if (!decoded.ok || decoded.content.type !== 'typing') return undefined;
      return { userId: result.sender.userId, typing: decoded.content.typing };
    });
    if (shown === undefined || shown.userId === session.account.userId || !this.keepsSender(shown.userId)) return;
    if (shown.typing) this.show(conversationId, shown.userId);
    else this.hide(conversationId, shown.userId);
  }

  stop(): void {
    for (const s of this.shown.values()) clearTimeout(s.timer);
    this.shown.clear();
  }

  private show(conversationId: GroupId, userId: UserId): void {
    const key = `${conversationId}|${userId}`;
    const existing = this.shown.get(key);
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => this.hide(conversationId, userId), TYPING_EXPIRE_MS);
    this.shown.set(key, { conversationId, userId, timer });
    if (existing === undefined) this.emit(conversationId, userId, true);
  }

  private hide(conversationId: GroupId, userId: UserId): void {
    const key = `${conversationId}|${userId}`;
    const existing = this.shown.get(key);
    if (existing === undefined) return;
    clearTimeout(existing.timer);
    this.shown.delete(key);
    this.emit(conversationId, userId, false);
  }

  private emit(conversationId: GroupId, userId: UserId, typing: boolean): void {
    const username = this.core.current()?.directory.usernameOf(userId) ?? null;
    this.core.emit('typing', { conversationId, userId, username, typing });
  }
}
