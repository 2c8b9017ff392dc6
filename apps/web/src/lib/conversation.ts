import type { Conversation, ConversationMember, UserId } from '@parley/client';
import type { NameOf } from './people';

/**
 * A 1:1 chat is shown as a chat with the other person. A group stays a group
 * at any size; a conversation whose kind is not known yet (just joined, roster
 * on its way) is shown like a group until it is.
 */
export function isDirect(conv: Conversation): boolean {
  return conv.kind === 'direct';
}

export function otherMembers(conv: Conversation, me: UserId | undefined): ConversationMember[] {
  return conv.members.filter((m) => m.userId !== me);
}

/** A member as shown: with `nameOf` (the people book), nickname > display name > username. */
export function memberName(m: ConversationMember, nameOf?: NameOf): string {
  return nameOf !== undefined ? nameOf(m.userId, m.username) : (m.username ?? 'Unknown user');
}

export function conversationTitle(conv: Conversation, me: UserId | undefined, nameOf?: NameOf): string {
  if (conv.title !== null && conv.title.trim() !== '') return conv.title;
  const others = otherMembers(conv, me);
  if (others.length === 0) return 'Only you';
  return others.map((m) => memberName(m, nameOf)).join(', ');
}

/** The other member of a 1:1 chat (null for a group, or before the roster names them). */
export function directMember(conv: Conversation, me: UserId | undefined): ConversationMember | null {
  if (!isDirect(conv)) return null;
  return otherMembers(conv, me)[0] ?? null;
}

/** The other user of a 1:1 chat, if it is one and their name is known. */
export function directPeer(conv: Conversation, me: UserId | undefined): string | null {
  if (!isDirect(conv)) return null;
  return otherMembers(conv, me)[0]?.username ?? null;
}
