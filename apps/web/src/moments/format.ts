import type { MomentAudience, MomentList, MomentWindow } from '@parley/client';

/** Pure helpers for Moments' words and links (no DOM, no React: the unit tests run them in Node). */

/** A link target the app opens: only http and https (never javascript:, data: and the like). */
export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/giu;

/** A text cut into plain parts and web links (http and https only, each with the address to open). */
export function splitLinks(text: string): Array<{ readonly text: string; readonly href: string | null }> {
  const parts: Array<{ text: string; href: string | null }> = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const href = safeHref(match[0]);
    if (href === null) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index), href: null });
    parts.push({ text: match[0], href });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), href: null });
  return parts;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** "just now", "5 minutes ago", "yesterday", then a date: how long ago a post was made. */
export function timeAgo(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return relative.format(-m, 'minute');
  const h = Math.round(m / 60);
  if (h < 24) return relative.format(-h, 'hour');
  const d = Math.round(h / 24);
  if (d < 7) return relative.format(-d, 'day');
  return dateFormat.format(ms);
}

/** Who an own post went to, in words: "All friends", "Close friends", "All except Family". */
export function audienceLine(audience: MomentAudience | null, lists: readonly MomentList[] | null): string | null {
  if (audience === null) return null;
  if (audience.kind === 'friends') return 'All friends';
  const names = audience.lists.map((id) => lists?.find((l) => l.id === id)?.name ?? 'a deleted list').join(', ');
  return audience.kind === 'lists' ? names : `All except ${names}`;
}

/** The visibility window in words. */
export function windowLabel(w: MomentWindow): string {
  return w === '3d' ? 'the last 3 days' : w === '1m' ? 'the last month' : w === '6m' ? 'the last 6 months' : 'all your posts';
}
