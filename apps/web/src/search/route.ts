import type { GroupId } from '@parley/client';

/**
 * The app's hash route: `#/c/<conversation>` opens a conversation,
 * `#/c/<conversation>/m/<seq>` opens it at one message (a search result, a
 * link to a message) and highlights it.
 */
export interface Route {
  readonly conversationId: GroupId;
  /** The message to show, or null for the conversation's newest messages. */
  readonly seq: number | null;
}

const ROUTE = /^#\/c\/([A-Za-z0-9_-]{8,128})(?:\/m\/(\d{1,15}))?$/;

/** The route in a location hash, or null (no conversation, or not a route this app makes). */
export function parseRoute(hash: string): Route | null {
  const m = ROUTE.exec(hash);
  if (m?.[1] === undefined) return null;
  const seq = m[2] === undefined ? null : Number(m[2]);
  return { conversationId: m[1] as GroupId, seq: seq !== null && Number.isSafeInteger(seq) ? seq : null };
}

/** The hash for a conversation, or one of its messages. */
export function routeHash(conversationId: GroupId, seq: number | null = null): string {
  return seq === null ? `#/c/${conversationId}` : `#/c/${conversationId}/m/${seq}`;
}
