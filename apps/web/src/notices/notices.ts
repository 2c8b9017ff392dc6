import type { Message, UserId } from '@parley/client';

/**
 * Notices are lines the client writes into a conversation's history itself
 * (never received from anyone): a member's safety number changed, or a change
 * naming a device nobody vouches for was refused. They are shown as centred
 * system lines, never as someone's message, and never count as unread.
 */
export type NoticeContent = Extract<Message['content'], { type: 'notice' }>;
export type Notice = NoticeContent['notice'];
export type NoticeMessage = Message & { readonly content: NoticeContent };

export function isNotice(m: Message): m is NoticeMessage {
  return m.content.type === 'notice';
}

/** A key unique in a conversation's history: several notices may share the seq of the commit that caused them. */
export function messageKey(m: Message): string {
  return isNotice(m) ? `n${m.seq}:${m.content.id}` : `m${m.seq}`;
}

function devicesChanged(added: number, removed: number): string {
  if (added === 1 && removed === 1) return 'a device was replaced';
  if (added > 0 && removed > 0) return 'devices were added and removed';
  if (added > 0) return added === 1 ? 'a device was added' : `${added} devices were added`;
  if (removed > 0) return removed === 1 ? 'a device was removed' : `${removed} devices were removed`;
  return 'their devices changed';
}

/** The line shown in the conversation. */
export function noticeText(notice: Notice, me: UserId | undefined): string {
  if (notice.kind === 'device_refused') return 'A change naming a device Parley could not verify was refused';
  if (notice.kind === 'messages_undecryptable') return 'Some messages could not be decrypted';
  const self = notice.userId === me;
  const name = notice.username ?? 'A member';
  if (notice.reset) return self ? 'You started over with a new identity' : `${name} started over with a new identity`;
  const what = devicesChanged(notice.added, notice.removed);
  return self ? `Your safety number changed — ${what}` : `${name}’s safety number changed — ${what}`;
}

/** The short form for the conversation list's preview. */
export function noticePreview(notice: Notice): string {
  if (notice.kind === 'messages_undecryptable') return 'Some messages could not be decrypted';
  return notice.kind === 'device_refused' ? 'An unverified change was refused' : 'Safety number changed';
}

/** Whose safety number the user may want to verify after this notice (null: nobody to check). */
export function noticeContact(notice: Notice, me: UserId | undefined): string | null {
  if (notice.kind !== 'safety_number_changed' || notice.userId === me) return null;
  return notice.username;
}
