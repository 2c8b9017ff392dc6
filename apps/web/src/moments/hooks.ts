import { useCallback, useEffect, useRef, useState } from 'react';
import type { MomentEvent, MomentList, MomentNotice, MomentPage, MomentPerson, MomentPost, ParleyClient, UserId } from '@parley/client';
import { keepUnchanged } from '../app/hooks';
import { describeError } from '../lib/errors';

/** Posts read per page of the timeline (and per reload step). */
export const PAGE_SIZE = 20;

/** Subscribes to the client's 'moments' event for the lifetime of the component; the latest handler is always used. */
export function useMomentsEvent(client: ParleyClient, handler: (e: MomentEvent) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const listener = (e: MomentEvent) => ref.current(e);
    client.on('moments', listener);
    return () => client.off('moments', listener);
  }, [client]);
}

/**
 * Runs `load` now and again whenever it is asked to while one is under way:
 * at most one read at a time, and the last request always gets a read that
 * started after it.
 */
function useSerialLoad(load: () => Promise<void>): () => void {
  const running = useRef(false);
  const again = useRef(false);
  const latest = useRef(load);
  latest.current = load;
  return useCallback(() => {
    if (running.current) {
      again.current = true;
      return;
    }
    running.current = true;
    const run = (): void => {
      again.current = false;
      void latest.current().finally(() => {
        if (again.current) run();
        else running.current = false;
      });
    };
    run();
  }, []);
}

/** How many notices were not seen yet (the Moments badge), kept fresh by the 'moments' events. */
export function useUnseenCount(client: ParleyClient): number {
  const [count, setCount] = useState(0);
  const load = useSerialLoad(async () => {
    try {
      setCount(await client.moments.unseenCount());
    } catch {
      /* keeps the last count: a badge is no place for an error */
    }
  });
  useEffect(load, [load]);
  useMomentsEvent(client, (e) => {
    if (e.kind === 'notices' || e.kind === 'removed' || e.kind === 'comments') load();
  });
  return count;
}

/** Which posts a feed shows: the timeline (own and friends'), or one person's page. */
export type FeedSource = { readonly kind: 'timeline' } | { readonly kind: 'user'; readonly userId: UserId };

export interface Feed {
  /** Null until the first page is read. */
  readonly posts: readonly MomentPost[] | null;
  readonly hasMore: boolean;
  readonly loadingMore: boolean;
  readonly error: string | null;
  readonly loadMore: () => void;
  readonly reload: () => void;
}

function readPage(client: ParleyClient, source: FeedSource, before: string | null): Promise<MomentPage> {
  const o = { before, limit: PAGE_SIZE };
  return source.kind === 'timeline' ? client.moments.timeline(o) : client.moments.byUser(source.userId, o);
}

/**
 * A feed read page by page (newest first), kept current by the 'moments'
 * events: a change to one post re-reads that post; anything else re-reads
 * the pages shown so far (as many posts as were loaded), keeping the
 * identity of posts that did not change so their rows do not render again.
 */
export function useFeed(client: ParleyClient, source: FeedSource): Feed {
  const [posts, setPosts] = useState<readonly MomentPost[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const shown = useRef(0);
  const sourceKey = source.kind === 'timeline' ? 'timeline' : `user:${source.userId}`;
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const postsRef = useRef(posts);
  postsRef.current = posts;

  const reload = useSerialLoad(async () => {
    const want = Math.max(PAGE_SIZE, shown.current);
    const all: MomentPost[] = [];
    let cursor: string | null = null;
    try {
      do {
        const page = await readPage(client, sourceRef.current, cursor);
        all.push(...page.posts);
        cursor = page.next;
      } while (cursor !== null && all.length < want);
      shown.current = all.length;
      setPosts((prev) => (prev === null ? all : keepUnchanged(prev, all)));
      setNext(cursor);
      setError(null);
    } catch (err) {
      setError(describeError(err));
      setPosts((prev) => prev ?? []);
    }
  });

  // A new source starts afresh.
  useEffect(() => {
    shown.current = 0;
    setPosts(null);
    setNext(null);
    reload();
  }, [sourceKey, reload]);

  const loadingRef = useRef(false);
  const loadMore = useCallback(() => {
    if (next === null || loadingRef.current) return;
    loadingRef.current = true;
    setLoadingMore(true);
    readPage(client, sourceRef.current, next).then(
      (page) => {
        setPosts((prev) => {
          const have = new Set((prev ?? []).map((p) => p.id));
          const merged = [...(prev ?? []), ...page.posts.filter((p) => !have.has(p.id))];
          shown.current = merged.length;
          return merged;
        });
        setNext(page.next);
      },
      (err: unknown) => setError(describeError(err)),
    ).finally(() => {
      loadingRef.current = false;
      setLoadingMore(false);
    });
  }, [client, next]);

  useMomentsEvent(client, (e) => {
    if (e.kind === 'lists' || e.kind === 'notices') return;
    if (e.kind === 'removed' && e.postId !== undefined) {
      const id = e.postId;
      setPosts((prev) => (prev === null ? prev : prev.filter((p) => p.id !== id)));
      return;
    }
    // A change to a post on screen (its comments, its body fetched): that post alone is read again.
    if ((e.kind === 'comments' || e.kind === 'post') && e.postId !== undefined && postsRef.current?.some((p) => p.id === e.postId) === true) {
      const id = e.postId;
      client.moments.get(id).then(
        (post) => setPosts((prev) => (prev === null ? prev : post === null ? prev.filter((p) => p.id !== id) : prev.map((p) => (p.id === id ? keepUnchanged(p, post) : p)))),
        () => reload(),
      );
      return;
    }
    reload();
  });

  return { posts, hasMore: next !== null, loadingMore, error, loadMore, reload };
}

/** Friends (mutual contacts), kept current. Null until read. */
export function useFriends(client: ParleyClient): readonly MomentPerson[] | null {
  const [friends, setFriends] = useState<readonly MomentPerson[] | null>(null);
  const load = useSerialLoad(async () => {
    try {
      const next = await client.moments.friends();
      setFriends((prev) => (prev === null ? next : keepUnchanged(prev, next)));
    } catch {
      setFriends((prev) => prev ?? []);
    }
  });
  useEffect(load, [load]);
  useMomentsEvent(client, (e) => {
    if (e.kind === 'friends') load();
  });
  return friends;
}

/** This user's lists of friends, kept current. Null until read. */
export function useLists(client: ParleyClient): readonly MomentList[] | null {
  const [lists, setLists] = useState<readonly MomentList[] | null>(null);
  const load = useSerialLoad(async () => {
    try {
      const next = await client.moments.lists();
      setLists((prev) => (prev === null ? next : keepUnchanged(prev, next)));
    } catch {
      setLists((prev) => prev ?? []);
    }
  });
  useEffect(load, [load]);
  useMomentsEvent(client, (e) => {
    if (e.kind === 'lists' || e.kind === 'friends') load();
  });
  return lists;
}

/** Likes and comments on this user's posts and replies to their comments, newest first; kept current. */
export function useNotices(client: ParleyClient): { notices: readonly MomentNotice[] | null; error: string | null } {
  const [notices, setNotices] = useState<readonly MomentNotice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useSerialLoad(async () => {
    try {
      const next = await client.moments.notices();
      setNotices((prev) => (prev === null ? next : keepUnchanged(prev, next)));
      setError(null);
    } catch (err) {
      setError(describeError(err));
      setNotices((prev) => prev ?? []);
    }
  });
  useEffect(load, [load]);
  useMomentsEvent(client, (e) => {
    if (e.kind === 'notices' || e.kind === 'removed' || e.kind === 'comments') load();
  });
  return { notices, error };
}
