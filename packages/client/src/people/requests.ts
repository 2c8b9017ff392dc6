import type { GroupId, UserId } from '@parley/protocol';
import { runLater } from '../core/context.js';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import type { Conversations } from '../conversations/conversations.js';
import { ClientError } from '../errors.js';
import { deleteMediaFor } from '../media/media-records.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { Conversation, ConversationSummary } from '../types.js';
import type { Blocks } from './blocks.js';
import type { Contacts } from './contacts.js';
import type { JoinDecision } from '../sync/content-handlers.js';
import type { RequestEntry } from './people-entries.js';
import type { PeopleSync } from './people-sync.js';


/** What the requests module calls outside people/ (set by people.ts). */
export interface RequestHooks {
  /** A request was accepted here: the inviter may now learn this user's profile (profiles/, when present). */
  accepted(conversationId: GroupId): void;
}

/**
 * client.requests: message requests. A Welcome that adds this device to a
 * conversation is a request when the device that committed it (the signer
 * of the Welcome's GroupInfo, @parley/crypto JoinResult.inviter) belongs to a
 * user who is neither this user nor a contact. Pending conversations keep
 * their messages (the preview) but send nothing back — no receipts, no
 * typing, no profile key — and stay out of conversationSummaries().
 * Accept / Delete are decisions synced to the user's devices (request
 * entries, latest wins); a device that joins later follows the decision.
 *
 * Report: a moderation issue will add `report(conversationId)` here — it
 * should send the evidence the user chooses, then call `delete`. Nothing is
 * reported today.
 */
export class Requests {
  hooks: RequestHooks | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly sync: PeopleSync,
    private readonly contacts: Contacts,
    private readonly blocks: Blocks,
    private readonly conversations: Conversations,
    private readonly now: () => number,
  ) {}

  list(): Promise<ConversationSummary[]> {
    this.core.session();
    return this.conversations.summaries('requests');
  }

  async accept(conversationId: GroupId): Promise<Conversation> {
    const conv = await this.pending(conversationId);
    const inviter = conv.invitedBy ?? null;
    await this.sync.local({ requests: [await this.entry(conversationId, 'accepted', inviter)] });
    if (inviter !== null && !this.blocks.isBlocked(inviter)) {
      const name = conv.members.find((m) => m.userId === inviter)?.username ?? this.state.nameOf(inviter) ?? (await this.core.session().directory.lookupUserById(inviter)).username;
      await this.contacts.addUser(inviter, name);
    }
    return this.state.toConversation(await this.state.record(conversationId));
  }

  async delete(conversationId: GroupId): Promise<void> {
    const conv = await this.pending(conversationId);
    await this.sync.local({ requests: [await this.entry(conversationId, 'deleted', conv.invitedBy ?? null)] });
  }

  /** Blocks the inviter (which deletes their requests, this one included), then makes sure this one is deleted. */
  async block(conversationId: GroupId): Promise<void> {
    const conv = await this.pending(conversationId);
    if (conv.invitedBy !== undefined) await this.blocks.block(conv.invitedBy);
    const now = await this.core.repo.conversation(conversationId);
    if (now?.request === 'pending') await this.sync.local({ requests: [await this.entry(conversationId, 'deleted', conv.invitedBy ?? null)] });
  }

  /**
   * A Welcome joined this device to `conversationId` (not the self group):
   * whether it is a request. A conversation this device already had keeps its
   * state (re-added after a removal, or healed); a decision taken on another
   * device of this user wins; a blocked inviter's Welcome is refused (left
   * silently, never shown). Unknown inviter (an engine that cannot tell):
   * a request unless every other member is a contact.
   */
  async decide(conversationId: GroupId, inviter: UserId | undefined, existing: ConversationRecord | undefined, memberUsers: readonly UserId[]): Promise<JoinDecision> {
    const me = this.core.session().account.userId;
    const invitedBy = inviter !== undefined && inviter !== me ? { invitedBy: inviter } : {};
    const kept = (c: ConversationRecord): JoinDecision => ({ ...(c.request === undefined ? {} : { request: c.request }), ...(c.invitedBy === undefined ? invitedBy : { invitedBy: c.invitedBy }) });
    // Healing: any member may re-add a device whose state broke, a blocked one too; the conversation stays as it was.
    if (existing?.status === 'rejoining') return kept(existing);
    if (inviter !== undefined && this.blocks.isBlocked(inviter)) return { request: 'deleted', ...invitedBy };
    if (existing !== undefined && existing.request !== 'deleted') return kept(existing);
    const decided = await this.sync.records.request(conversationId);
    if (decided !== undefined && !(existing?.request === 'deleted' && decided.state === 'deleted' && inviter !== me)) {
      const by = decided.inviter === null ? invitedBy : { invitedBy: decided.inviter };
      // Pending there, but the inviter has become a contact since (which accepts their requests).
      if (decided.state === 'pending' && decided.inviter !== null && (await this.contacts.has(decided.inviter))) return by;
      return decided.state === 'accepted' ? by : { request: decided.state, ...by };
    }
    if (inviter === me) return {};
    if (inviter !== undefined) return (await this.contacts.has(inviter)) ? invitedBy : { request: 'pending', ...invitedBy };
    for (const u of memberUsers) if (u !== me && !(await this.contacts.has(u))) return { request: 'pending' };
    return {};
  }

  /** A request entry that won a merge (here or from another device): the conversation record follows it. */
  async apply(entry: RequestEntry, origin: 'local' | 'remote'): Promise<void> {
    const conversationId = entry.conversationId;
    if (entry.state === 'deleted') return this.hide(conversationId);
    const updated = await this.core.locks.run(conversationId, async () => {
      const conv = await this.core.repo.conversation(conversationId);
      if (conv === undefined || conv.request === 'deleted') return undefined;
      // Pending on another device, but the inviter is a contact here (adding them accepted it): stays accepted.
      const inviter = entry.inviter ?? conv.invitedBy;
      const want = entry.state === 'pending' && !(inviter !== undefined && (await this.contacts.has(inviter))) ? 'pending' : undefined;
      if (conv.request === want) return undefined;
      const { request: _request, ...rest } = conv;
      const next: ConversationRecord = want === undefined ? rest : { ...rest, request: want };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    if (updated === undefined) return;
    this.core.emit('conversation', this.state.toConversation(updated));
    if (entry.state === 'accepted' && origin === 'local') this.hooks?.accepted(conversationId);
  }

  /**
   * Deletes a request on this device: the record is kept as a hidden
   * tombstone (status `left`, so later frames of the group are skipped
   * quietly) and its messages (and the media kept for them) are forgotten; the device proposes its own
   * removal (another member commits it).
   */
  async hide(conversationId: GroupId): Promise<void> {
    const result = await this.core.locks.run(conversationId, async () => {
      const conv = await this.core.repo.conversation(conversationId);
      if (conv === undefined || conv.request === 'deleted') return undefined;
      const batch = new StoreBatch();
      for (const m of await this.core.repo.messages(conversationId)) {
        batch.deleteMessage(conversationId, m.seq);
        deleteMediaFor(batch, m.content);
      }
      const next: ConversationRecord = { ...conv, request: 'deleted', status: conv.status === 'active' ? 'left' : conv.status, lastMessageSeq: null, unread: 0 };
      await this.core.repo.commit(batch.putConversation(next));
      return { wasActive: conv.status === 'active', members: next.members };
    });
    if (result === undefined) return;
    const { account } = this.core.session();
    this.core.emit('membership', { conversationId, addedDevices: [], removedDevices: [account.deviceId], members: result.members, removedSelf: true });
    if (result.wasActive) runLater(this.core, () => this.outbox.proposeLeave(conversationId, false), conversationId);
  }

  /** Pending requests as entries, for the snapshot a new own device gets. */
  async pendingEntries(): Promise<RequestEntry[]> {
    const out: RequestEntry[] = [];
    for (const c of await this.core.repo.conversations()) {
      if (c.request === 'pending') out.push({ conversationId: c.id, state: 'pending', inviter: c.invitedBy ?? null, updatedAt: c.createdAt });
    }
    return out;
  }

  private async pending(conversationId: GroupId): Promise<ConversationRecord> {
    this.core.session();
    this.state.visible(conversationId);
    const conv = await this.state.record(conversationId);
    if (conv.request !== 'pending') throw new ClientError('not_found', 'not a pending message request');
    return conv;
  }

  private async entry(conversationId: GroupId, state: RequestEntry['state'], inviter: UserId | null): Promise<RequestEntry> {
    const held = await this.sync.records.request(conversationId);
    return { conversationId, state, inviter, updatedAt: Math.max(this.now(), (held?.updatedAt ?? 0) + 1) };
  }
}
