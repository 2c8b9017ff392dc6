const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The timers a conversation can have (the content schema's DISAPPEAR_TIMERS_MS), with their names. */
export const DISAPPEAR_OPTIONS: ReadonlyArray<{ readonly ms: number | null; readonly label: string }> = [
  { ms: null, label: 'Off' },
  { ms: 5 * MIN, label: '5 minutes' },
  { ms: HOUR, label: '1 hour' },
  { ms: DAY, label: '1 day' },
  { ms: 7 * DAY, label: '1 week' },
  { ms: 28 * DAY, label: '4 weeks' },
];

export function timerLabel(ms: number | null): string {
  return DISAPPEAR_OPTIONS.find((o) => o.ms === ms)?.label ?? (ms === null ? 'Off' : `${Math.round(ms / MIN)} minutes`);
}

/** The chat line for a change of the timer, e.g. "Alice set disappearing messages to 1 hour". */
export function timerLine(who: string, ms: number | null): string {
  return ms === null ? `${who} turned off disappearing messages` : `${who} set disappearing messages to ${timerLabel(ms).toLowerCase()}`;
}
