/** Dates, times, sizes and names, formatted for the reader's locale. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

const dayStringFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

const DAY_MS = 24 * 60 * 60 * 1000;

/** A "YYYY-MM-DD" day from the server (a UTC day) in the reader's words, e.g. "3 December 2026". */
export function formatDayString(day: string): string {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(ms) ? day : dayStringFormat.format(ms);
}

export function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function formatTime(ms: number): string {
  return timeFormat.format(ms);
}

export function formatFull(ms: number): string {
  return fullFormat.format(ms);
}

/** For the conversation list: a time today, a weekday this week, else a date. */
export function formatListTime(ms: number, now = Date.now()): string {
  const today = startOfDay(now);
  if (ms >= today) return timeFormat.format(ms);
  if (ms >= today - 6 * DAY_MS) return weekdayFormat.format(ms);
  return shortDateFormat.format(ms);
}

/** For day separators in a conversation. */
export function formatDay(dayStart: number, now = Date.now()): string {
  const today = startOfDay(now);
  if (dayStart === today) return 'Today';
  if (dayStart === startOfDay(today - DAY_MS / 2)) return 'Yesterday';
  return longDateFormat.format(dayStart);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GB`;
}

/** Up to two letters for an avatar, from the first letters of the name's words (any script). */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._-]+/u).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0] ?? '');
  return letters.join('').toLocaleUpperCase() || '?';
}

/** A stable hue per name, so each person's avatar keeps its colour. */
export function hueFor(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) % 360;
  return h;
}

/** Splits a safety number into groups of five digits. */
export function safetyGroups(digits: string): string[] {
  return digits.replace(/\D/g, '').match(/.{1,5}/g) ?? [];
}

/** "0:07", "12:34" for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}
