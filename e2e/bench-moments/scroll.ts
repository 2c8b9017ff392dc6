/**
 * Runs in the page (passed to page.evaluate): scrolls the Moments timeline
 * by `stepPx` each animation frame, like a steady flick, until the end of
 * the feed (all pages loaded, "No older posts." shown, bottom reached) or
 * `maxSeconds`. Measures frame times (requestAnimationFrame deltas), long
 * tasks (PerformanceObserver 'longtask': main-thread tasks over 50 ms), how
 * many posts are in the DOM at most (virtualised: it must stay small), and
 * how far the scroll got (the highest post index rendered).
 * Self-contained: no imports, nothing from the enclosing module.
 */
export interface ScrollOptions {
  readonly stepPx: number;
  readonly maxSeconds: number;
}

export interface ScrollResult {
  frames: number;
  seconds: number;
  frameMs: { median: number; p95: number; p99: number; max: number };
  /** Frames longer than 1.5 × the median (a dropped frame at least). */
  slowFrames: number;
  longTasks: number;
  longTaskMsTotal: number;
  longTaskMsMax: number;
  maxPostsInDom: number;
  maxRowsInDom: number;
  postsReached: number;
  reachedEnd: boolean;
  scrolledPx: number;
}

export function scrollFeed(o: ScrollOptions): Promise<ScrollResult> {
  const scroller = document.querySelector<HTMLElement>('.moment-scroll');
  const feed = document.querySelector<HTMLElement>('[role="feed"]');
  if (scroller === null || feed === null) return Promise.reject(new Error('no Moments feed on the page'));
  const longTasks: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longTasks.push(e.duration);
  });
  observer.observe({ type: 'longtask', buffered: false });
  const deltas: number[] = [];
  let maxPosts = 0;
  let maxRows = 0;
  let reached = 0;
  let scrolled = 0;
  let stuckFrames = 0;
  return new Promise((resolve) => {
    const start = performance.now();
    let last = start;
    const frame = (t: number) => {
      deltas.push(t - last);
      last = t;
      const before = scroller.scrollTop;
      scroller.scrollTop = before + o.stepPx;
      scrolled += scroller.scrollTop - before;
      const rows = feed.querySelectorAll<HTMLElement>('[data-index]');
      maxRows = Math.max(maxRows, rows.length);
      maxPosts = Math.max(maxPosts, feed.querySelectorAll('article').length);
      for (const r of rows) reached = Math.max(reached, Number(r.dataset['index'] ?? 0) + 1);
      const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2;
      const ended = atBottom && document.querySelector('.moment-end') !== null;
      stuckFrames = atBottom ? stuckFrames + 1 : 0;
      if (ended || (t - start) / 1000 >= o.maxSeconds) {
        observer.disconnect();
        const sorted = deltas.slice(1).sort((a, b) => a - b);
        const q = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
        const median = q(0.5);
        resolve({
          frames: sorted.length,
          seconds: Math.round((t - start) / 10) / 100,
          frameMs: { median, p95: q(0.95), p99: q(0.99), max: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10 },
          slowFrames: sorted.filter((d) => d > median * 1.5).length,
          longTasks: longTasks.length,
          longTaskMsTotal: Math.round(longTasks.reduce((a, b) => a + b, 0)),
          longTaskMsMax: Math.round(Math.max(0, ...longTasks)),
          maxPostsInDom: maxPosts,
          maxRowsInDom: maxRows,
          postsReached: reached,
          reachedEnd: ended,
          scrolledPx: Math.round(scrolled),
        });
        return;
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

(globalThis as { benchScrollFeed?: typeof scrollFeed }).benchScrollFeed = scrollFeed;
