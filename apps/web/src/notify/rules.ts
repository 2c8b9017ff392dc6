import type { Conversation, Message, UserId } from '@parley/client';

/**
 * What a notification says, decided on the device from the decrypted message
 * (the push carried nothing). The same rules for the service worker (app
 * closed) and for the page (app open but not in front).
 */

/** Shown when content is hidden, or when the device could not decrypt safely. */
export const GENERIC_TITLE = 'Parley';
export const GENERIC_BODY = 'New message';
/** The tag of the one generic notification (it replaces itself). */
export const GENERIC_TAG = 'parley-new-message';
const MAX_BODY = 180;

export interface NotificationSpec {
  readonly title: string;
  readonly body: string;
  /** One notification per conversation: the conversation id (the generic one: GENERIC_TAG). */
  readonly tag: string;
  readonly data: NotificationData;
}

export interface NotificationData {
  /** Undefined for the generic notification: a click just opens the app. */
  readonly conversationId?: string;
  /** How many messages of the conversation it stands for. */
  readonly count: number;
  /** The seq of the latest message it shows: once the read position reaches it, it is closed. */
  readonly seq?: number;
}

export type NameOf = (userId: UserId, username: string | null) => string;

/** Only a new message from someone else in a conversation that is not muted and not yet read. */
export function shouldNotify(message: Message, conversation: Conversation, selfUserId: UserId | undefined): boolean {
  if (message.outgoing || message.deleted || message.sender.userId === selfUserId) return false;
  const type = message.content.type;
  if (type !== 'text' && type !== 'attachment' && type !== 'voice') return false;
  if (conversation.muted || conversation.status === 'removed' || conversation.status === 'left') return false;
  return message.seq > conversation.readSeq;
}

/** The body for a message: its text, or what kind of media it is. */
export function describeMessage(message: Message): string {
  const c = message.content;
  if (c.type === 'text') return clip(c.text);
  if (c.type === 'voice') return 'Voice message';
  if (c.type === 'attachment') {
    const kind = c.mimeType.startsWith('image/') ? 'Photo' : c.mimeType.startsWith('video/') ? 'Video' : 'File';
    return c.caption !== undefined && c.caption.trim() !== '' ? clip(`${kind}: ${c.caption}`) : kind;
  }
  return GENERIC_BODY;
}

/**
 * The notification for `latest`, standing for `count` messages of its
 * conversation. Title: the sender ("Alice in Team" in a group); body: the
 * text. A message request shows who, never what (a stranger's text waits for
 * acceptance). `showContent` off: "Parley" / "New message" only.
 */
export function notificationFor(latest: Message, conversation: Conversation, count: number, nameOf: NameOf, showContent: boolean): NotificationSpec {
  const data: NotificationData = { conversationId: conversation.id, count, seq: latest.seq };
  if (!showContent) {
    return { title: GENERIC_TITLE, body: count > 1 ? `${count} new messages` : GENERIC_BODY, tag: conversation.id, data };
  }
  const sender = oneLine(nameOf(latest.sender.userId, latest.sender.username));
  const group = conversation.kind === 'group' ? oneLine(conversation.title ?? '') : '';
  const title = conversation.kind === 'group' ? `${sender} in ${group === '' ? 'a group' : group}` : sender;
  const text = conversation.request ? 'Message request' : describeMessage(latest);
  return { title, body: count > 1 ? `${text}\n${count} new messages` : text, tag: conversation.id, data };
}

export function genericNotification(count = 1): NotificationSpec {
  return { title: GENERIC_TITLE, body: count > 1 ? `${count} new messages` : GENERIC_BODY, tag: GENERIC_TAG, data: { count } };
}

/** The count a notification already stands for (read back from one shown earlier with the same tag). */
export function countOf(data: unknown): number {
  if (typeof data !== 'object' || data === null) return 0;
  const n = (data as Record<string, unknown>)['count'];
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 1_000_000 ? n : 0;
}

/** True when the notification's conversation was read up to the message it shows (here or on another device). */
export function isReadBy(data: unknown, conversationId: string, readSeq: number): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return d['conversationId'] === conversationId && typeof d['seq'] === 'number' && d['seq'] <= readSeq;
}

/** The route a click on a notification opens. */
export function routeFor(data: unknown): string {
  if (typeof data === 'object' && data !== null) {
    const id = (data as Record<string, unknown>)['conversationId'];
    // Conversation ids are base64url: anything else is not routed (a notification's data is not trusted blindly).
    if (typeof id === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(id)) return `#/c/${id}`;
  }
  return '#/';
}

/**
 * Direction overrides and isolates (U+202A–U+202E, U+2066–U+2069) are dropped:
 * in a notification there is no bubble to contain them, and they could make a
 * sender's text look like another sender's line or reorder what it says.
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** One line of someone's text for a notification: direction controls dropped, trimmed, at most MAX_BODY characters. */
export function clip(s: string): string {
  const t = s.replace(BIDI_CONTROLS, '').trim();
  return t.length > MAX_BODY ? `${t.slice(0, MAX_BODY - 1)}…` : t;
}

/** A name or title on one line, direction controls dropped. */
export function oneLine(s: string): string {
  return s.replace(BIDI_CONTROLS, '').replace(/\s+/g, ' ').trim();
}
