import type { MlsGroup } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { ConversationRecord, MemberRecord, MessageRecord, StoreBatch } from '../store/records.js';
import type { Conversation, ConversationKind, ConversationMember, Message, MessageStatus, Notice } from '../types.js';
import { changeFields } from '../messages/views.js';
import { safetyNumberNotices } from '../verification/notices.js';
import type { MembershipChange } from '../verification/notices.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import type { ClientCore } from './context.js';

/** A feature module's step for each history entry before it is stored (see GroupState.prepareHistory). */
export interface HistoryHook {
  beforeStore(into: InboxBatch, record: MessageRecord): Promise<MessageRecord>;
}

/** Adds a group's serialized MLS state to a store batch. */
export function putGroup(batch: StoreBatch, groupId: GroupId, group: MlsGroup): StoreBatch {
  const s = group.serialize();
  return batch.putGroup({ groupId, secrets: s.secrets, ratchetTree: s.ratchetTree });
}

/** Own seqs kept per conversation: an older one that comes back is still skipped, as undecryptable to its sender. */
const MAX_OWN_SEQS = 1_000;

/**
 * The record once this device's own message or commit got `seq`. Right
 * above the cursor (nothing can come in between) it moves the cursor, so a
 * device that only sends does not pile up own seqs; else the seq is kept to
 * skip it when it comes back.
 */
export function withOwnSeq(conv: ConversationRecord, seq: number): ConversationRecord {
  if (seq <= conv.lastSeq) return conv;
  const own = [...conv.ownSeqs, seq].sort((a, b) => a - b);
  let lastSeq = conv.lastSeq;
  while (own[0] !== undefined && own[0] <= lastSeq + 1) lastSeq = Math.max(lastSeq, own.shift() as number);
  return { ...conv, lastSeq, ownSeqs: own.slice(-MAX_OWN_SEQS) };
}

/** Records (and rosters) from before kinds existed: untitled between two users reads as 1:1. */
export function kindOf(c: { kind?: ConversationRecord['kind']; title: string | null; members: readonly unknown[] }): ConversationKind | null {
  if (c.kind === 'unknown') return null;
  return c.kind ?? (c.title === null && c.members.length === 2 ? 'direct' : 'group');
}

/**
 * The stored state of groups and conversations as the modules see it: MLS
 * groups loaded (and cached) from the store, conversation records, their
 * members, and the public views (Conversation, Message) of the records.
 */
export class GroupState {
  /** The status of this user's messages (set by the receipts module; messages/receipts.ts). */
  messageStatus: (m: MessageRecord) => MessageStatus | null = () => null;
  private readonly historyHooks: HistoryHook[] = [];

  constructor(private readonly core: ClientCore) {}

  /** Public calls never reach the self group (it is not a conversation). */
  visible(conversationId: GroupId): void {
    if (conversationId === this.core.hiddenGroup()) throw new ClientError('unknown_conversation', 'no such conversation on this device');
  }

  async load(groupId: GroupId): Promise<MlsGroup> {
    const cached = this.core.groups.get(groupId);
    if (cached !== undefined) return cached;
    const { engine } = this.core.session();
    const record = await this.core.repo.group(groupId);
    if (record === undefined) throw new ClientError('unknown_conversation', 'no such conversation on this device');
    const group = await engine.loadGroup({ secrets: record.secrets, ratchetTree: record.ratchetTree });
    if (group.groupIdText !== groupId) throw new ClientError('unknown_conversation', 'stored group state is for another group');
    this.core.groups.set(groupId, group);
    return group;
  }

  async record(id: GroupId): Promise<ConversationRecord> {
    const c = await this.core.repo.conversation(id);
    if (c === undefined) throw new ClientError('unknown_conversation', 'no such conversation on this device');
    return c;
  }

  /** Member users of a group (with their devices), named from the stored roster or the directory. */
  membersOf(group: MlsGroup, previous: readonly ConversationMember[]): MemberRecord[] {
    const { directory } = this.core.session();
    const names = new Map(previous.map((m) => [m.userId, m.username]));
    const byUser = new Map<UserId, DeviceId[]>();
    for (const d of group.memberDevices()) {
      const list = byUser.get(d.userId);
      if (list === undefined) byUser.set(d.userId, [d.deviceId]);
      else list.push(d.deviceId);
    }
    // The directory's name first: every member device was checked against it on the way in.
    return [...byUser].map(([userId, devices]) => ({ userId, username: directory.cached(userId)?.username ?? names.get(userId) ?? directory.usernameOf(userId) ?? null, devices }));
  }

  /** Writes notices (in `batch`) and returns the callback that emits them once the batch is stored. */
  async withNotices(batch: StoreBatch, conversationId: GroupId, seq: number, notices: readonly Notice[]): Promise<() => void> {
    const records = await this.core.session().notices.add(batch, conversationId, seq, notices);
    return () => {
      for (const r of records) this.core.emit('message', this.toMessage(r));
    };
  }

  safetyNumberNotices(change: MembershipChange): Notice[] {
    const { account, directory } = this.core.session();
    return safetyNumberNotices(account.userId, change, (userId) => directory.usernameOf(userId) ?? null);
  }

  toConversation(c: ConversationRecord): Conversation {
    return {
      id: c.id,
      title: c.title,
      kind: kindOf(c),
      members: c.members,
      status: c.status,
      createdAt: c.createdAt,
      readSeq: c.readSeq,
      unread: c.unread,
      disappearAfterMs: c.disappearAfterMs ?? null,
      muted: c.muted ?? false,
      pinned: c.pinned ?? false,
      archived: c.archived ?? false,
      request: c.request === 'pending',
      invitedBy: c.invitedBy ?? null,
    };
  }

  /** Adds a feature module's step for every history entry this device stores (settings/: expiry, timer, unarchive). */
  addHistoryHook(hook: HistoryHook): void {
    this.historyHooks.push(hook);
  }

  /**
   * Every path that stores a history entry (received, sent, or a lost reply's
   * own copy) passes it here first, in its batch: the hooks may add writes,
   * change `into.conv`, and return the record to store and emit.
   */
  async prepareHistory(into: InboxBatch, record: MessageRecord): Promise<MessageRecord> {
    let r = record;
    for (const hook of this.historyHooks) r = await hook.beforeStore(into, r);
    return r;
  }

  /** A user's name as this device knows it (this user's own from the account). */
  nameOf(userId: UserId): string | null {
    const session = this.core.current();
    return userId === session?.account.userId ? session.account.username : (session?.directory.usernameOf(userId) ?? null);
  }

  /** The public view of a record; a reply's quote is filled in later (messages/views.ts resolveReplies). */
  toMessage(m: MessageRecord): Message {
    return {
      conversationId: m.conversationId,
      seq: m.seq,
      sender: { userId: m.senderUserId, deviceId: m.senderDeviceId, username: this.nameOf(m.senderUserId) },
      outgoing: m.outgoing,
      sentAt: m.content.sentAt,
      receivedAt: m.receivedAt,
      content: m.content,
      status: this.messageStatus(m),
      expiresAt: m.expiresAt ?? null,
      ...changeFields(m, this.core.current()?.account.userId, (userId) => this.nameOf(userId)),
    };
  }

  /**
   * The conversation record once `message` is stored with it (same batch):
   * it becomes the last message; one from another user above the read
   * position is unread; one from this user (any of its devices) moves the
   * read position up to it, since whoever writes has read what came before.
   * `overlay`: the uncommitted batch `message` joins (its messages count too).
   */
  async withStoredMessage(conv: ConversationRecord, message: MessageRecord, overlay?: StoreBatch): Promise<ConversationRecord> {
    const { account } = this.core.session();
    const updated = { ...conv, lastMessageSeq: Math.max(conv.lastMessageSeq ?? 0, message.seq) };
    if (message.outgoing || message.senderUserId === account.userId) {
      const readSeq = Math.max(conv.readSeq, message.seq);
      return { ...updated, readSeq, unread: await this.core.repo.countUnread(conv.id, readSeq, account.userId, overlay, updated.lastMessageSeq) };
    }
    return message.seq > conv.readSeq ? { ...updated, unread: conv.unread + 1 } : updated;
  }
}
