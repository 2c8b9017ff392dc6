/** Wire protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS = [1] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];
export const CURRENT_PROTOCOL_VERSION: ProtocolVersion = 1;

/** Picks the highest version both sides support, or undefined if none. */
export function negotiateVersion(offered: readonly number[], supported: readonly number[] = PROTOCOL_VERSIONS): number | undefined {
  let best: number | undefined;
  for (const v of offered) {
    if (supported.includes(v) && (best === undefined || v > best)) best = v;
  }
  return best;
}
