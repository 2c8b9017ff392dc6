import type { MemberDevice, MessageContent } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { ConversationRecord, MessageRecord, StoreBatch } from '../store/records.js';
import type { UserId } from '@parley/protocol';

/** A decrypted, validated application message that is not a history entry (reaction, edit, delete, receipt, …). */
export interface IncomingContent {
  readonly conversationId: GroupId;
  readonly seq: number;
  readonly sender: MemberDevice;
  readonly content: MessageContent;
  readonly receivedAt: number;
}

/**
 * The batch an incoming run is stored in. Handlers add their writes to
 * `batch`, read messages as they will be after it (`message`), may replace
 * the conversation record (`conv`), and defer events to `afterCommit` — they
 * run only once the batch is stored, before the acknowledgement is queued.
 */
export interface InboxBatch {
  readonly batch: StoreBatch;
  conv: ConversationRecord;
  message(seq: number): Promise<MessageRecord | undefined>;
  afterCommit(fn: () => void): void;
}

export interface ContentHandler {
  apply(into: InboxBatch, incoming: IncomingContent): Promise<void>;
}

/** Takes this device's own message back when the server delivers it (its `ok` was lost): messages/lost-replies.ts. */
export interface OwnCopyHandler {
  /** True when `payload` was a kept send, now stored at `seq` in `into`; false: skip it as before. */
  ownCopy(into: InboxBatch, seq: number, payload: Uint8Array): Promise<boolean>;
  /**
   * The next frame is `nextSeq` but the cursor is further back: the seqs in
   * between were never delivered to this device. True when kept sends were
   * stored there (in `into`; the cursor is left to the frame).
   */
  gap(into: InboxBatch, nextSeq: number): Promise<boolean>;
}

export type HistoryFilter = (conversationId: GroupId, seq: number, senderUserId: MemberDevice['userId'], content: MessageContent) => boolean;

/** What a Welcome into a conversation (not the self group) becomes: a pending request, refused (`deleted`: left silently), or accepted. */
export interface JoinDecision {
  readonly request?: 'pending' | 'deleted';
  readonly invitedBy?: UserId;
}
export type JoinPolicy = (conversationId: GroupId, inviter: UserId | undefined, existing: ConversationRecord | undefined, memberUsers: readonly UserId[]) => Promise<JoinDecision>;

/** Content type → the feature module that applies it. Registered once by ParleyClient. */
export class ContentHandlers {
  private readonly byType = new Map<string, ContentHandler>();
  private own: OwnCopyHandler | undefined;
  private historyFilter: HistoryFilter | undefined;
  private brokenHandler: ((conversationId: GroupId) => void) | undefined;
  private senderFilter: ((userId: UserId) => boolean) | undefined;
  private joinPolicy: JoinPolicy | undefined;

  /** Decides, before anything of it is stored, whether content from a user is kept at all (people/: not from a blocked user). */
  registerSenderFilter(keeps: (userId: UserId) => boolean): void {
    this.senderFilter = keeps;
  }

  keepsSender(userId: UserId): boolean {
    return this.senderFilter?.(userId) ?? true;
  }

  /** Decides what a Welcome becomes (people/requests.ts); without one, every Welcome is accepted. */
  registerJoinPolicy(policy: JoinPolicy): void {
    this.joinPolicy = policy;
  }

  async joinDecision(conversationId: GroupId, inviter: UserId | undefined, existing: ConversationRecord | undefined, memberUsers: readonly UserId[]): Promise<JoinDecision> {
    return (await this.joinPolicy?.(conversationId, inviter, existing, memberUsers)) ?? {};
  }

  /** Called once this device's state for a conversation is found broken and the conversation marked rejoining (healing/). */
  registerBroken(fn: (conversationId: GroupId) => void): void {
    this.brokenHandler = fn;
  }

  broken(conversationId: GroupId): void {
    this.brokenHandler?.(conversationId);
  }

  registerOwnCopy(handler: OwnCopyHandler): void {
    this.own = handler;
  }

  /** Decides whether a decrypted history entry is stored (messages/duplicates.ts drops a second copy of a send). */
  registerHistoryFilter(filter: HistoryFilter): void {
    this.historyFilter = filter;
  }

  keepHistory(conversationId: GroupId, seq: number, sender: MemberDevice, content: MessageContent): boolean {
    if (!this.keepsSender(sender.userId)) return false;
    return this.historyFilter?.(conversationId, seq, sender.userId, content) ?? true;
  }

  /** Seqs below `nextSeq` that never arrived: see OwnCopyHandler. */
  async gap(into: InboxBatch, nextSeq: number): Promise<boolean> {
    return (await this.own?.gap(into, nextSeq)) ?? false;
  }

  /** Our own application message came back (MLS `own_message`): see OwnCopyHandler. */
  async ownCopy(into: InboxBatch, seq: number, payload: Uint8Array): Promise<boolean> {
    return (await this.own?.ownCopy(into, seq, payload)) ?? false;
  }

  register(types: readonly MessageContent['type'][], handler: ContentHandler): void {
    for (const t of types) this.byType.set(t, handler);
  }

  /** Applies `incoming` with its handler; content nobody handles changes nothing (the ratchet moved, that is all). */
  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    if (!this.keepsSender(incoming.sender.userId)) return;
    await this.byType.get(incoming.content.type)?.apply(into, incoming);
  }
}
