/** Time source; tests substitute their own. Seconds since the epoch. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) };

/** Rounds up to the next hour: the precision retention needs and no more. */
export function ceilHour(seconds: number): number {
  return Math.ceil(seconds / 3600) * 3600;
}

/** Rounds up to the next UTC midnight: what session expiry keeps of a sign-in (its day). */
export function ceilDay(seconds: number): number {
  return Math.ceil(seconds / 86400) * 86400;
}

/** "YYYY-MM-DD" (UTC): the only precision kept for creation dates. */
export function dayOf(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
