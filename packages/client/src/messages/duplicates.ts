import type { MessageContent } from '@parley/crypto';
import type { GroupId, UserId } from '@parley/protocol';

/** How many recent (conversation, sender, content id) triples are remembered. */
export const RECENT_CONTENT_IDS = 10_000;

/**
 * Defence in depth against a send stored twice (a Retry after a lost reply
 * whose first copy could not be matched): a history entry whose content id
 * this device already stored from the same user in the same conversation,
 * at another seq, is dropped. Remembered in memory only (bounded, oldest
 * first out) — it catches a retry that arrives in the same session as its
 * first copy, which is when a retry happens; it costs no store read.
 */
export class RecentContentIds {
  private readonly seen = new Map<string, number>();

  /** True when the entry is new (and now remembered); false for a second copy under the same content id. */
  keep(conversationId: GroupId, seq: number, senderUserId: UserId, content: MessageContent): boolean {
    const key = `${conversationId}/${senderUserId}/${content.id}`;
    const first = this.seen.get(key);
    if (first !== undefined && first !== seq) return false;
    if (first === undefined) {
      this.seen.set(key, seq);
      if (this.seen.size > RECENT_CONTENT_IDS) {
        const oldest = this.seen.keys().next();
        if (oldest.done !== true) this.seen.delete(oldest.value);
      }
    }
    return true;
  }
}
