import { encodeContent, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import type { BlobDigest, GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import type { Conversations } from '../conversations/conversations.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { MomentRecords, OutRecord } from './moment-records.js';

/** Sends into this many pair groups at once. */
const PARALLEL_SENDS = 6;

/** The pair of this user and `other`: an active, accepted 1:1 group of exactly those two users. */
export function isPairWith(c: ConversationRecord, me: UserId, other: UserId, kind: string): boolean {
  if (c.status !== 'active' || kind !== 'direct' || c.request === 'pending' || c.request === 'deleted') return false;
  const users = new Set(c.members.map((m) => m.userId));
  return users.size === 2 && users.has(me) && users.has(other);
}

/**
 * How Moments traffic leaves the device: one MLS application message per
 * friend, in the pair's own 1:1 group (docs/moments.md). A friend with no
 * such group gets one, created quiet (hidden from chat lists until a chat
 * message is sent in it). What is to be sent is stored first (`moments/out/`)
 * and taken off per friend as each send is acknowledged, so a send cut short
 * by going offline or a restart goes on after the next sync.
 */
export class MomentSender {
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly conversations: Conversations,
    private readonly records: MomentRecords,
  ) {}

  /** Every pair group with `other` this device is in, by id. */
  async pairs(other: UserId): Promise<GroupId[]> {
    const me = this.core.session().account.userId;
    const pairs = (await this.core.repo.conversations()).filter((c) => c.id !== this.core.hiddenGroup() && isPairWith(c, me, other, this.state.toConversation(c).kind ?? ''));
    return pairs.map((c) => c.id).sort();
  }

  /**
   * The pair group with `other` to send in, if there is one. When there are several (both
   * opened one at once, or they chat in more than one 1:1), the lowest id: both sides, and all
   * their devices, then send in the same group.
   */
  async channel(other: UserId): Promise<GroupId | undefined> {
    return (await this.pairs(other))[0];
  }

  /** The pair group with `other`, created quiet when there is none. */
  async ensureChannel(other: UserId, username: string): Promise<GroupId> {
    // One creation at a time per user: two sends at once must not open two pairs.
    return this.core.locks.run(`moments/pair/${other}`, async () => {
      const held = await this.channel(other);
      if (held !== undefined) return held;
      const created = await this.conversations.create([username], { kind: 'direct', quiet: true });
      return created.id;
    });
  }

  /** Stores `content` to go to each of `to`, then sends it (resolves once every send was tried). */
  async send(content: MessageContent, to: readonly UserId[], blobs: readonly BlobDigest[] = [], wake: readonly UserId[] = [], mayOpen = true): Promise<void> {
    if (await this.enqueue(content, to, blobs, wake, mayOpen)) await this.flush();
  }

  /** Stores `content` to go to each of `to` (sent by the next flush, after a restart too); false: nobody to send to. */
  async enqueue(content: MessageContent, to: readonly UserId[], blobs: readonly BlobDigest[] = [], wake: readonly UserId[] = [], mayOpen = true): Promise<boolean> {
    if (to.length === 0) return false;
    // Only what starts or carries a friendship opens a pair group; a goodbye or a delete goes where one exists.
    const open = mayOpen && (content.type === 'moment_post' || content.type === 'moment_comment' || (content.type === 'moment_hello' && content.friend));
    const out: OutRecord = { id: newContentId(), plaintext: toBase64Url(encodeContent(content)), blobs: [...blobs], to: [...new Set(to)], open, wake: [...new Set(wake)], createdAt: Date.now() };
    const batch = new StoreBatch();
    this.records.putOut(batch, out);
    await this.core.repo.commit(batch);
    return true;
  }

  /** Sends whatever is still to go (after a sync, a restart). One flush at a time. */
  flush(): Promise<void> {
    const next = this.running.then(() => this.flushNow());
    this.running = next.catch(() => undefined);
    return next;
  }

  private async flushNow(): Promise<void> {
    for (const out of await this.records.outgoing()) {
      if (this.core.isClosed() || this.core.current() === undefined) return;
      const left = new Set(out.to);
      const plaintext = fromBase64Url(out.plaintext);
      if (plaintext === undefined) {
        const batch = new StoreBatch();
        this.records.deleteOut(batch, out.id);
        await this.core.repo.commit(batch);
        continue;
      }
      const queue = [...out.to];
      let offline = false;
      const worker = async (): Promise<void> => {
        for (let userId = queue.shift(); userId !== undefined && !offline; userId = queue.shift()) {
          const result = await this.sendOne(userId, plaintext, out.blobs, out.open, !out.wake.includes(userId));
          if (result === 'offline') offline = true;
          else left.delete(userId);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_SENDS, queue.length) }, worker));
      const batch = new StoreBatch();
      if (left.size === 0) this.records.deleteOut(batch, out.id);
      else this.records.putOut(batch, { ...out, to: [...left] });
      await this.core.repo.commit(batch);
      if (offline) return;
    }
  }

  /** `offline`: try again after the next sync; `done`: sent, or no longer possible (no pair group, the friend is gone). */
  private async sendOne(userId: UserId, plaintext: Uint8Array, blobs: readonly BlobDigest[], open: boolean, silent: boolean): Promise<'done' | 'offline'> {
    try {
      let channel = await this.channel(userId);
      if (channel === undefined && !open) return 'done';
      if (channel === undefined) {
        const { directory } = this.core.session();
        const user = await directory.lookupUserById(userId);
        channel = await this.ensureChannel(userId, user.username);
      }
      // Most Moments traffic has nothing to show: it wakes no closed app (a push that shows nothing costs the app its silent-push budget).
      await this.outbox.sendPlaintext(channel, plaintext, blobs, undefined, { readyTimeoutMs: 0, ...(silent ? { silent: true } : {}) });
      return 'done';
    } catch (err) {
      if (err instanceof ClientError && (err.code === 'disconnected' || err.code === 'closed' || err.code === 'not_logged_in' || err.code === 'network')) return 'offline';
      // Gone (account deleted, no device that can be added, left the pair): nothing more to do for them.
      if (!this.core.isClosed()) this.core.emitError('moment_invalid', err);
      return 'done';
    }
  }
}
