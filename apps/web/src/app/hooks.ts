import { useCallback, useEffect, useRef, useState } from 'react';
import { ClientError, type ConversationSummary, type GroupId, type ParleyClient } from '@parley/client';
import { parseRoute, routeHash } from '../search/route';
import { useClientEvent } from './session';

export type ConnectionLabel = 'Connected' | 'Connecting…' | 'Offline';

/**
 * Why the connection stopped for good: this device was revoked (or the
 * account started over), or only its session ended (it may sign in again).
 */
export type ConnectionEnd = 'revoked' | 'signed-out';

/** The connection as a person sees it: connected only once the backlog is in. */
export function useConnection(client: ParleyClient): { label: ConnectionLabel; fatal: ConnectionEnd | null } {
  const [label, setLabel] = useState<ConnectionLabel>('Connecting…');
  const [fatal, setFatal] = useState<ConnectionEnd | null>(null);
  useClientEvent(client, 'connection', (e) => {
    if (e.state === 'synced' || e.state === 'online') setLabel(e.state === 'synced' ? 'Connected' : 'Connecting…');
    else if (e.state === 'connecting') setLabel('Connecting…');
    else setLabel('Offline');
  });
  useClientEvent(client, 'error', (e) => {
    if (e.code === 'fatal') setFatal(e.error instanceof ClientError && e.error.code === 'unauthenticated' ? 'signed-out' : 'revoked');
  });
  useEffect(() => {
    let cancelled = false;
    void client.whenSynced().then(() => {
      if (!cancelled) setLabel((l) => (l === 'Offline' ? l : 'Connected'));
    });
    return () => {
      cancelled = true;
    };
  }, [client]);
  return { label, fatal };
}

/** How often the conversation list reloads at most: live, and while a backlog is coming in (each reload re-renders the app). */
const LIST_REFRESH_MS = 30;
const LIST_REFRESH_CATCHING_UP_MS = 250;

/** Runs `fn` at most once per `delayMs()` however many times it is requested. */
function useCoalesced(fn: () => void, delayMs: () => number): () => void {
  const pending = useRef(false);
  const latest = useRef(fn);
  latest.current = fn;
  const delay = useRef(delayMs);
  delay.current = delayMs;
  return useCallback(() => {
    if (pending.current) return;
    pending.current = true;
    setTimeout(() => {
      pending.current = false;
      latest.current();
    }, delay.current());
  }, []);
}

/** True from connecting until the backlog is in (the client's `synced`); not while offline. */
function useCatchingUp(client: ParleyClient): { readonly current: boolean } {
  const catchingUp = useRef(true);
  useClientEvent(client, 'connection', (e) => {
    catchingUp.current = e.state === 'connecting' || e.state === 'online';
  });
  useEffect(() => {
    let live = true;
    void client.whenSynced().then(() => {
      if (live) catchingUp.current = false;
    });
    return () => {
      live = false;
    };
  }, [client]);
  return catchingUp;
}

/**
 * `next` with every part that equals the same part of `prev` replaced by
 * that part of `prev` (array items that carry an `id` are matched by it):
 * a reload that changed one conversation keeps the identity of everything
 * else, so effects and memoised views keyed on them (a conversation's
 * members, its last message) do not run again on every reload.
 */
export function keepUnchanged<T>(prev: T, next: T): T {
  if (Object.is(prev, next) || typeof prev !== 'object' || typeof next !== 'object' || prev === null || next === null) return next;
  if (prev instanceof Uint8Array || next instanceof Uint8Array) {
    return prev instanceof Uint8Array && next instanceof Uint8Array && prev.length === next.length && prev.every((b, i) => b === next[i]) ? prev : next;
  }
  if (Array.isArray(prev) !== Array.isArray(next)) return next;
  if (Array.isArray(prev) && Array.isArray(next)) {
    const byId = new Map<unknown, unknown>(prev.map((p: unknown, i) => [idOf(p) ?? i, p]));
    const items = next.map((n: unknown, i) => keepUnchanged(byId.get(idOf(n) ?? i), n));
    return (items.length === prev.length && items.every((x, i) => x === prev[i]) ? prev : items) as T;
  }
  if (Object.getPrototypeOf(prev) !== Object.prototype || Object.getPrototypeOf(next) !== Object.prototype) return next;
  const p = prev as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let same = Object.keys(p).length === Object.keys(n).length;
  for (const key of Object.keys(n)) {
    out[key] = key in p ? keepUnchanged(p[key], n[key]) : n[key];
    same &&= out[key] === p[key];
  }
  return (same ? prev : out) as T;
}

function idOf(x: unknown): unknown {
  return typeof x === 'object' && x !== null && 'id' in x && typeof x.id === 'string' ? x.id : undefined;
}

/** The conversation list, kept fresh by the client's events. */
export function useConversationSummaries(client: ParleyClient): { list: ConversationSummary[] | null; refresh: () => void } {
  const [list, setList] = useState<ConversationSummary[] | null>(null);
  const load = useCallback(() => {
    client.conversationSummaries().then(
      (next) => setList((prev) => (prev === null ? next : keepUnchanged(prev, next))),
      () => undefined,
    );
  }, [client]);
  // The list is painted from the store at once; during a catch-up it follows the backlog a few times a second.
  const catchingUp = useCatchingUp(client);
  const refresh = useCoalesced(load, () => (catchingUp.current ? LIST_REFRESH_CATCHING_UP_MS : LIST_REFRESH_MS));
  useEffect(load, [load]);
  useClientEvent(client, 'message', refresh);
  useClientEvent(client, 'conversation', refresh);
  useClientEvent(client, 'membership', refresh);
  // A conversation's last message may have disappeared.
  useClientEvent(client, 'expired', refresh);
  return { list, refresh };
}

/** A message to show and highlight in the open conversation; a new token each time it is asked for (the same message twice flashes twice). */
export interface MessageTarget {
  readonly seq: number;
  readonly token: number;
}

/**
 * The selected conversation, kept in the URL hash so reload and the back
 * button work; `#/c/<id>/m/<seq>` also names a message to jump to (search
 * results, links), handed out as `target`.
 */
export function useSelectedConversation(): [GroupId | null, (id: GroupId | null, seq?: number) => void, MessageTarget | null] {
  const tokens = useRef(0);
  const read = useCallback((): { id: GroupId | null; target: MessageTarget | null } => {
    const route = parseRoute(window.location.hash);
    if (route === null) return { id: null, target: null };
    return { id: route.conversationId, target: route.seq === null ? null : { seq: route.seq, token: ++tokens.current } };
  }, []);
  const [state, setState] = useState(read);
  useEffect(() => {
    const onHash = () => setState(read());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [read]);
  const select = useCallback((next: GroupId | null, seq?: number) => {
    if (next === null) {
      if (window.location.hash !== '') history.pushState(null, '', window.location.pathname);
      setState({ id: null, target: null });
      return;
    }
    const hash = routeHash(next, seq ?? null);
    if (window.location.hash !== hash) history.pushState(null, '', hash);
    setState({ id: next, target: seq === undefined ? null : { seq, token: ++tokens.current } });
  }, []);
  return [state.id, select, state.target];
}

/** True while the page is visible (for read receipts and marking read). */
export function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const on = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);
  return visible;
}

/** Pending message requests (conversations started by someone who is not a contact), kept fresh like the list. */
export function useRequests(client: ParleyClient): { requests: ConversationSummary[] | null; refresh: () => void } {
  const [requests, setRequests] = useState<ConversationSummary[] | null>(null);
  const load = useCallback(() => {
    client.requests.list().then(
      (next) => setRequests((prev) => (prev === null ? next : keepUnchanged(prev, next))),
      () => undefined,
    );
  }, [client]);
  const refresh = useCoalesced(load, () => LIST_REFRESH_CATCHING_UP_MS);
  useEffect(load, [load]);
  useClientEvent(client, 'message', refresh);
  useClientEvent(client, 'conversation', refresh);
  useClientEvent(client, 'membership', refresh);
  useClientEvent(client, 'contacts', refresh);
  useClientEvent(client, 'blocks', refresh);
  useClientEvent(client, 'expired', refresh);
  return { requests, refresh };
}
