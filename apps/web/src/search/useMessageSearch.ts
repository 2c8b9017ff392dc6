import { useCallback, useEffect, useRef, useState } from 'react';
import type { GroupId, ParleyClient, SearchResult, UserId } from '@parley/client';
import { useClientEvent } from '../app/session';
import { describeError } from '../lib/errors';
import { snippetStillIn } from './snippet-parts';

/** The filters a search can have on top of its words. */
export interface SearchFilters {
  /** Only this conversation (the list search's "In"; a conversation's own search always sets it). */
  readonly conversationId: GroupId | null;
  /** Only messages this person sent. */
  readonly from: UserId | null;
  /** Only attachments (found by caption and file name). */
  readonly attachmentsOnly: boolean;
}

export const NO_FILTERS: SearchFilters = { conversationId: null, from: null, attachmentsOnly: false };

/** Results per page ("More results" asks for the next). */
export const SEARCH_PAGE = 20;
/** The most results the SDK hands out per query. */
const MAX_LIMIT = 200;
/** Typing pauses this long before the index is asked. */
export const SEARCH_DEBOUNCE_MS = 180;
/** The SDK refuses longer queries (client.search MAX_QUERY_LENGTH). */
export const MAX_QUERY_CHARS = 1000;

export interface MessageSearch {
  /** Null while there is nothing to search for (no words). */
  readonly results: readonly SearchResult[] | null;
  /** The query the results are for (what the status line names). */
  readonly query: string;
  readonly searching: boolean;
  readonly error: string | null;
  readonly hasMore: boolean;
  readonly loadingMore: boolean;
  loadMore(): void;
  /** Searches now instead of after the typing pause (Enter). */
  flush(): void;
}

function keyOf(r: SearchResult): string {
  return `${r.conversationId}/${r.seq}`;
}


/**
 * Search over this device's history (client.search: nothing leaves the
 * device), as the person types: asked after a short pause, answers to an
 * older query dropped, pages newest first. The next page asks for results
 * sent before the last one shown (+1 ms, so messages sent in the same
 * millisecond are not skipped; what is shown already is left out).
 */
export function useMessageSearch(client: ParleyClient, text: string, filters: SearchFilters): MessageSearch {
  const [results, setResults] = useState<readonly SearchResult[] | null>(null);
  const [query, setQuery] = useState('');
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const generation = useRef(0);
  // Enter: the next search runs without the typing pause.
  const [kick, setKick] = useState(0);
  const immediate = useRef(false);
  const { conversationId, from, attachmentsOnly } = filters;
  const trimmed = text.trim();

  const options = useCallback(
    (before?: number, limit = SEARCH_PAGE) => ({
      limit,
      ...(conversationId !== null ? { conversationId } : {}),
      ...(from !== null ? { from } : {}),
      ...(attachmentsOnly ? { attachmentsOnly: true } : {}),
      ...(before !== undefined ? { before } : {}),
    }),
    [conversationId, from, attachmentsOnly],
  );

  useEffect(() => {
    const g = ++generation.current;
    setLoadingMore(false);
    if (trimmed === '') {
      setResults(null);
      setQuery('');
      setSearching(false);
      setError(null);
      setHasMore(false);
      return;
    }
    setSearching(true);
    const timer = setTimeout(
      () => {
        client.search.query(trimmed, options()).then(
          (page) => {
            if (g !== generation.current) return;
            setResults(page);
            setQuery(trimmed);
            setHasMore(page.length === SEARCH_PAGE);
            setError(null);
            setSearching(false);
          },
          (err: unknown) => {
            if (g !== generation.current) return;
            setResults([]);
            setQuery(trimmed);
            setHasMore(false);
            setError(describeError(err));
            setSearching(false);
          },
        );
      },
      immediate.current ? 0 : SEARCH_DEBOUNCE_MS,
    );
    immediate.current = false;
    return () => clearTimeout(timer);
  }, [client, trimmed, options, kick]);

  const flush = useCallback(() => {
    immediate.current = true;
    setKick((k) => k + 1);
  }, []);

  // Results follow the history: a message deleted for everyone or expired leaves them; an edit asks again (its
  // snippet changed, or it no longer matches). New messages do not reorder what is being read.
  const drop = useCallback((conversationId: GroupId, seqs: readonly number[]) => {
    setResults((list) => (list?.some((r) => r.conversationId === conversationId && seqs.includes(r.seq)) === true ? list.filter((r) => !(r.conversationId === conversationId && seqs.includes(r.seq))) : list));
  }, []);
  useClientEvent(client, 'expired', (e) => drop(e.conversationId, e.seqs));
  useClientEvent(client, 'message', (m) => {
    const shown = results?.find((r) => r.conversationId === m.conversationId && r.seq === m.seq);
    if (shown === undefined) return;
    if (m.deleted) drop(m.conversationId, [m.seq]);
    else if (m.editedAt !== null && !snippetStillIn(shown.snippet, m)) flush();
  });

  const loadMore = useCallback(() => {
    const last = results?.[results.length - 1];
    if (last === undefined || loadingMore || !hasMore) return;
    const g = generation.current;
    setLoadingMore(true);
    const shown = new Set((results ?? []).map(keyOf));
    // The results shown from the last one's millisecond come again (it is included so none of that millisecond is
    // skipped): asked for on top of a page, then left out.
    const again = (results ?? []).filter((r) => r.sentAt === last.sentAt).length;
    const ask = async () => {
      const limit = Math.min(SEARCH_PAGE + again, MAX_LIMIT);
      const page = await client.search.query(query, options(last.sentAt + 1, limit));
      const fresh = page.filter((r) => !shown.has(keyOf(r)));
      // More results in that one millisecond than a page can hold: step past it rather than ask for it again.
      if (fresh.length === 0 && page.length === limit) {
        const next = await client.search.query(query, options(last.sentAt));
        return { fresh: next.filter((r) => !shown.has(keyOf(r))), full: next.length === SEARCH_PAGE };
      }
      return { fresh, full: page.length === limit };
    };
    ask().then(
      ({ fresh, full }) => {
        if (g !== generation.current) return;
        setResults((list) => [...(list ?? []), ...fresh]);
        setHasMore(full && fresh.length > 0);
        setLoadingMore(false);
      },
      (err: unknown) => {
        if (g !== generation.current) return;
        setError(describeError(err));
        setLoadingMore(false);
      },
    );
  }, [client, results, loadingMore, hasMore, query, options]);

  return { results, query, searching, error, hasMore, loadingMore, loadMore, flush };
}
