import type { MemberDevice, MessageContent } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { ConversationRecord, MessageRecord, StoreBatch } from '../store/records.js';

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

/** Content type → the feature module that applies it. Registered once by ParleyClient. */
export class ContentHandlers {
  private readonly byType = new Map<string, ContentHandler>();

  register(types: readonly MessageContent['type'][], handler: ContentHandler): void {
    for (const t of types) this.byType.set(t, handler);
  }

  /** Applies `incoming` with its handler; content nobody handles changes nothing (the ratchet moved, that is all). */
  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    await this.byType.get(incoming.content.type)?.apply(into, incoming);
  }
}
