import type { KeyboardEvent, ReactNode, RefObject } from 'react';
import type { SearchResult } from '@parley/client';
import { formatFull, formatListTime } from '../lib/format';
import { snippetParts } from './snippet-parts';
import type { MessageSearch } from './useMessageSearch';

export function resultKey(r: SearchResult): string {
  return `${r.conversationId}/${r.seq}`;
}

/** The snippet with what matched in <mark>; its own direction (an Arabic snippet in an English UI reads right to left). */
export function Snippet(props: { result: SearchResult }) {
  return (
    <span className="search-snippet" dir="auto">
      {snippetParts(props.result.snippet, props.result.matches).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </span>
  );
}

/** Moves focus between the result buttons with the arrow keys, Home and End; Escape goes back to the search box. */
function onListKey(e: KeyboardEvent<HTMLElement>, input: RefObject<HTMLInputElement | null>): void {
  const items = [...e.currentTarget.querySelectorAll<HTMLButtonElement>('button.search-result')];
  const at = items.indexOf(document.activeElement as HTMLButtonElement);
  let next: number | null = null;
  if (e.key === 'ArrowDown') next = Math.min(at + 1, items.length - 1);
  else if (e.key === 'ArrowUp') {
    if (at <= 0) {
      e.preventDefault();
      input.current?.focus();
      return;
    }
    next = at - 1;
  } else if (e.key === 'Home') next = 0;
  else if (e.key === 'End') next = items.length - 1;
  else if (e.key === 'Escape') {
    e.preventDefault();
    e.stopPropagation();
    input.current?.focus();
    return;
  }
  if (next === null || items.length === 0) return;
  e.preventDefault();
  items[next]?.focus();
}

/** Focuses the first result (ArrowDown in the search box). */
export function focusFirstResult(list: RefObject<HTMLElement | null>): boolean {
  const first = list.current?.querySelector<HTMLButtonElement>('button.search-result');
  first?.focus();
  return first != null;
}

/**
 * The results: a status line ("3 results", "No messages found"), a list of
 * buttons (Tab or the arrow keys move between them, Enter or a click opens
 * one), "More results" at the end.
 */
export function SearchResults(props: {
  id: string;
  search: MessageSearch;
  listRef: RefObject<HTMLUListElement | null>;
  inputRef: RefObject<HTMLInputElement | null>;
  /** The result last opened (marked as current). */
  current: string | null;
  onOpen: (r: SearchResult) => void;
  /** What one result shows besides its snippet and date: its conversation, its sender. */
  renderHead: (r: SearchResult) => ReactNode;
  renderAside?: (r: SearchResult) => ReactNode;
  /** Before the snippet (the sender, in the list search). */
  renderLead?: (r: SearchResult) => ReactNode;
}) {
  const { search } = props;
  const results = search.results ?? [];
  const count = results.length;
  // While new words or filters are being searched, the older results stay (no flicker) but are not counted.
  const status =
    search.error !== null ? null : search.searching ? 'Searching…' : search.results === null ? '' : count === 0 ? 'No messages found' : `${count}${search.hasMore ? '+' : ''} ${count === 1 ? 'result' : 'results'}`;
  return (
    <div id={props.id} className="search-results" aria-busy={search.searching}>
      <p className={`search-status${count === 0 && !search.searching ? ' empty' : ''}`} role="status">
        {status}
      </p>
      {status === 'No messages found' && <p className="search-empty-hint muted small">Search looks through the messages kept on this device.</p>}
      {search.error !== null && (
        <p className="banner" role="alert">
          {search.error}
        </p>
      )}
      {count > 0 && (
        <ul ref={props.listRef} className="search-result-list" aria-label="Search results" onKeyDown={(e) => onListKey(e, props.inputRef)}>
          {results.map((r) => {
            const key = resultKey(r);
            return (
              <li key={key}>
                <button type="button" className="search-result" aria-current={props.current === key ? 'true' : undefined} onClick={() => props.onOpen(r)}>
                  {props.renderAside?.(r)}
                  <span className="search-result-text">
                    <span className="search-result-top">
                      <span className="search-result-head">{props.renderHead(r)}</span>
                      <time className="search-result-time" dateTime={new Date(r.sentAt).toISOString()} title={formatFull(r.sentAt)}>
                        {formatListTime(r.sentAt)}
                      </time>
                    </span>
                    <span className="search-result-line">
                      {props.renderLead?.(r)}
                      <Snippet result={r} />
                    </span>
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {search.hasMore && count > 0 && (
        <button type="button" className="button small search-more" disabled={search.loadingMore} onClick={search.loadMore}>
          {search.loadingMore ? 'Loading…' : 'More results'}
        </button>
      )}
    </div>
  );
}
