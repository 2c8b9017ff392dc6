import type { MomentNotice, ParleyClient, UserId } from '@parley/client';
// Relative imports name the .js file: the unit tests (e2e/) type-check this module under Node's resolution.
import { namesFor } from './naming.js';
import { clip, GENERIC_BODY, GENERIC_TITLE, oneLine, routeFor, type NameOf, type NotificationSpec } from './rules.js';
import type { NotificationHost } from './show.js';

/**
 * Notifications for Moments: someone liked or commented on this user's post,
 * or replied to their comment. The SDK stores these as notices (the 'moments'
 * event, kind 'notices'); here they become one notification, decided on the
 * device by the same rules as messages (who and what only with content shown).
 */

/** The one Moments notification (it replaces itself as notices come in). */
export const MOMENTS_TAG = 'parley-moments';
/** The route a click on it opens: the Moments tab. */
export const MOMENTS_ROUTE = '#/moments';

export interface MomentsNotificationData {
  readonly moments: true;
  /** How many unseen notices it stands for. */
  readonly count: number;
  /** When the latest notice it shows was stored: once that one is seen, it is closed. */
  readonly at: number;
}

/** The Moments notification as decided (its data says what it stands for). */
export interface MomentsNotificationSpec extends NotificationSpec {
  readonly data: MomentsNotificationData;
}

/** The unseen notices stored since `since` (this decision's start), from others, oldest first. */
export function freshNotices(notices: readonly MomentNotice[], since: number, self: UserId | undefined): MomentNotice[] {
  return notices.filter((n) => !n.seen && n.at >= since && n.from.userId !== self).sort((a, b) => a.at - b.at);
}

/** "Alice liked your moment", "Alice commented on your moment", "Alice replied to your comment". */
export function noticeHeadline(notice: MomentNotice, nameOf: NameOf): string {
  const who = oneLine(nameOf(notice.from.userId, notice.from.username));
  const what = notice.kind === 'like' ? 'liked your moment' : notice.kind === 'comment' ? 'commented on your moment' : 'replied to your comment';
  return `${who === '' ? 'Someone' : who} ${what}`;
}

/** The comment's text, made safe to show (empty for a like). */
export function noticeText(notice: MomentNotice): string {
  return notice.kind === 'like' || notice.text === null ? '' : clip(notice.text);
}

/**
 * The notification for the `fresh` notices (at least one), standing for
 * `unseen` notices in all. One: "Alice commented on your moment" with the
 * comment as its body. Several: "3 new in Moments" with the latest as its
 * body. `showContent` off: "Parley" / "New message", never a name or text.
 */
export function momentsNotification(fresh: readonly MomentNotice[], unseen: number, nameOf: NameOf, showContent: boolean): MomentsNotificationSpec | null {
  const latest = fresh.at(-1);
  if (latest === undefined) return null;
  const count = Math.max(unseen, fresh.length);
  const data: MomentsNotificationData = { moments: true, count, at: latest.at };
  if (!showContent) return { title: GENERIC_TITLE, body: count > 1 ? `${count} new messages` : GENERIC_BODY, tag: MOMENTS_TAG, data };
  const headline = noticeHeadline(latest, nameOf);
  const text = noticeText(latest);
  if (count === 1) return { title: headline, body: text, tag: MOMENTS_TAG, data };
  return { title: `${count} new in Moments`, body: clip(text === '' ? headline : `${headline}: ${text}`), tag: MOMENTS_TAG, data };
}

/** True for the data of a Moments notification. */
export function isMomentsData(data: unknown): data is MomentsNotificationData {
  return typeof data === 'object' && data !== null && (data as Record<string, unknown>)['moments'] === true;
}

/** The route a click on a notification opens: the Moments tab for the Moments one, else as for messages. */
export function notificationRoute(data: unknown): string {
  return isMomentsData(data) ? MOMENTS_ROUTE : routeFor(data);
}

/** True when the notices a Moments notification showed are seen (here, or on another device: none unseen up to its latest). */
export function isSeenBy(data: unknown, notices: readonly MomentNotice[]): boolean {
  if (!isMomentsData(data)) return false;
  const at = typeof data.at === 'number' ? data.at : Number.POSITIVE_INFINITY;
  return !notices.some((n) => !n.seen && n.at <= at);
}

/**
 * The decide step for Moments: reads the notices this device holds and
 * returns the notification for those stored since `since`, or null when
 * there is nothing new (or the notices cannot be read).
 */
export async function decideMoments(client: ParleyClient, showContent: boolean, since: number): Promise<MomentsNotificationSpec | null> {
  let notices: MomentNotice[];
  try {
    notices = await client.moments.notices();
  } catch {
    return null;
  }
  const fresh = freshNotices(notices, since, client.userId);
  const latest = fresh.at(-1);
  if (latest === undefined) return null;
  const nameOf = showContent ? await namesFor(client, [latest.from.userId]) : () => '';
  return momentsNotification(fresh, notices.filter((n) => !n.seen).length, nameOf, showContent);
}

/** Closes the Moments notification once what it showed is seen (markSeen here, the 'notices' event). */
export async function closeSeenMoments(host: NotificationHost, client: ParleyClient): Promise<void> {
  const shown = await host.getNotifications({ tag: MOMENTS_TAG }).catch(() => [] as Notification[]);
  if (shown.length === 0) return;
  let notices: MomentNotice[];
  try {
    notices = await client.moments.notices();
  } catch {
    return;
  }
  for (const n of shown) if (isSeenBy(n.data, notices)) n.close();
}
