import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { MomentList, MomentPost, ParleyClient } from '@parley/client';
import { PostCard, type PostActions } from './PostCard';
import { PAGE_SIZE, type Feed } from './hooks';

const NO_POSTS: readonly MomentPost[] = [];

/** Space between two posts, px. */
const GAP = 12;

/** A first guess at a post's height before it is measured: photos make it tall. */
function estimate(post: MomentPost | undefined): number {
  if (post === undefined) return 64;
  return 150 + (post.photos.length === 0 ? 0 : post.photos.length === 1 ? 260 : Math.ceil(post.photos.length / 3) * 120) + post.comments.length * 24;
}

/**
 * A feed of posts, newest first, virtualised: only the posts near the
 * viewport are in the DOM, each measured once rendered (heights vary with
 * text, photos and comments), and the next page is read as the end comes
 * near.
 */
export function FeedView(props: { client: ParleyClient; feed: Feed; lists: readonly MomentList[] | null; actions: PostActions; header?: ReactNode; empty: ReactNode; label: string }) {
  const { feed } = props;
  const posts = feed.posts ?? NO_POSTS;
  const scrollRef = useRef<HTMLDivElement>(null);
  const innerRef = useRef<HTMLDivElement>(null);
  // Where the list starts inside the scroller (below the header), for the virtualiser's arithmetic.
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const inner = innerRef.current;
    if (inner === null) return;
    const update = () => setMargin(inner.offsetTop);
    update();
    const ro = new ResizeObserver(update);
    if (inner.parentElement !== null) ro.observe(inner.parentElement);
    return () => ro.disconnect();
  }, []);

  const virtualizer = useVirtualizer({
    count: posts.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => estimate(posts[i]),
    getItemKey: (i) => posts[i]?.id ?? i,
    overscan: 4,
    scrollMargin: margin,
    gap: GAP,
    useFlushSync: false,
  });
  const items = virtualizer.getVirtualItems();

  // New posts put above what is being read (a friend posted) must not move it: the scroll position grows by their
  // estimated height (the virtualiser corrects it by itself once they are measured, being above the viewport).
  const before = useRef<{ ids: ReadonlySet<string>; order: readonly string[] }>({ ids: new Set(), order: [] });
  useLayoutEffect(() => {
    const el = scrollRef.current;
    const prev = before.current;
    before.current = { ids: new Set(posts.map((p) => p.id)), order: posts.map((p) => p.id) };
    if (el === null || el.scrollTop <= margin || prev.order.length === 0) return;
    // The first post that was already there and still is: everything new before it was inserted above.
    const anchor = posts.findIndex((p) => prev.ids.has(p.id));
    if (anchor <= 0) return;
    const added = posts.slice(0, anchor).reduce((sum, p) => sum + estimate(p) + GAP, 0);
    el.scrollTop += added;
  }, [posts, margin]);

  // The end comes near: read the next page.
  const lastIndex = items[items.length - 1]?.index ?? -1;
  const { hasMore, loadingMore, loadMore } = feed;
  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= posts.length - 3) loadMore();
  }, [lastIndex, posts.length, hasMore, loadingMore, loadMore]);

  return (
    <div className="moment-scroll" ref={scrollRef}>
      <div className="moment-feed">
        {props.header}
        {feed.error !== null && (
          <p className="banner" role="alert">
            {feed.error}
          </p>
        )}
        {feed.posts === null ? (
          <div className="moment-loading" aria-busy="true">
            <span className="spinner" aria-label="Loading posts" />
          </div>
        ) : posts.length === 0 ? (
          <div className="empty-list">{props.empty}</div>
        ) : null}
        <div ref={innerRef} className="moment-inner" role="feed" aria-label={props.label} aria-busy={feed.posts === null || loadingMore} style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const post = posts[item.index];
            if (post === undefined) return null;
            return (
              <div key={item.key} data-index={item.index} ref={virtualizer.measureElement} className="moment-row" style={{ transform: `translateY(${item.start - margin}px)` }}>
                <PostCard client={props.client} post={post} lists={props.lists} actions={props.actions} posInSet={item.index + 1} setSize={hasMore ? -1 : posts.length} />
              </div>
            );
          })}
        </div>
        {loadingMore && (
          <div className="moment-loading">
            <span className="spinner" aria-label="Loading older posts" />
          </div>
        )}
        {/* Said only after scrolling back through more than a page. */}
        {!hasMore && posts.length > PAGE_SIZE && <p className="muted small moment-end">No older posts.</p>}
      </div>
    </div>
  );
}
