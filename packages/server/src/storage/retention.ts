/**
 * Per-group retention (disappearing messages): times the storage writes for
 * it are rounded DOWN to the minute — coarse like every stored time, and never
 * later than the members' timer.
 */
export function floorMinute(seconds: number): number {
  return Math.floor(seconds / 60) * 60;
}
