import type { Conversation, GroupId, Message, ParleyClient } from '@parley/client';
import { namesFor } from './naming';
import { notificationFor, shouldNotify, type NotificationSpec } from './rules';

/** One conversation's notification to show (its count: the conversation's unread messages, at least the new ones). */
export interface PendingNotification {
  readonly tag: string;
  readonly spec: NotificationSpec;
}

/**
 * From the `message` events a client emitted, what to notify: per
 * conversation the new, unread messages from others stored since `since`
 * (an edit or reaction re-emits an older message: not new), none for a muted
 * conversation. Needs the client open (it reads conversations and names).
 */
export async function decide(client: ParleyClient, events: readonly Message[], showContent: boolean, since: number): Promise<PendingNotification[]> {
  const byConversation = new Map<GroupId, Map<number, Message>>();
  for (const m of events) {
    if (m.receivedAt < since) continue;
    let seqs = byConversation.get(m.conversationId);
    if (seqs === undefined) byConversation.set(m.conversationId, (seqs = new Map()));
    seqs.set(m.seq, m);
  }
  const out: PendingNotification[] = [];
  for (const [id, seqs] of byConversation) {
    let conversation: Conversation;
    try {
      conversation = await client.conversation(id);
    } catch {
      continue;
    }
    const fresh = [...seqs.values()].filter((m) => shouldNotify(m, conversation, client.userId)).sort((a, b) => a.seq - b.seq);
    const latest = fresh.at(-1);
    if (latest === undefined) continue;
    const nameOf = showContent ? await namesFor(client, [latest.sender.userId]) : () => '';
    const count = Math.max(conversation.unread, fresh.length);
    out.push({ tag: conversation.id, spec: notificationFor(latest, conversation, count, nameOf, showContent) });
  }
  return out;
}
