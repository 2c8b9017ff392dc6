import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { Conversation, ParleyClient, SearchResult } from '@parley/client';
import { usePeople } from '../app/people';
import { Icon } from '../components/Dialog';
import { SearchField, SearchFilterBar, useSearchText } from './SearchControls';
import { SearchResults, focusFirstResult, resultKey } from './SearchResults';
import { peopleChoices, senderLabel } from './SidebarSearch';
import { NO_FILTERS, useMessageSearch, type SearchFilters } from './useMessageSearch';

/** At this width and below the results cover the history, so they fold away once one is opened. */
const NARROW = '(max-width: 760px)';

/**
 * Search inside the open conversation (the header's "Search in
 * conversation"): the box, "From" and "Attachments only", the results under
 * it; opening one jumps to the message in the history below. "Older" and
 * "Newer" step through the results; on a phone the list folds away once a
 * result is opened ("Show results" brings it back). Ctrl+F / ⌘F in the
 * conversation opens it (ConversationView).
 */
export function ConversationSearch(props: {
  client: ParleyClient;
  conversation: Conversation;
  /** A new number: the box takes focus (Ctrl+F while the search is open already). */
  focusRequest?: number;
  onJump: (seq: number) => void;
  onClose: () => void;
}) {
  const { conversation: conv } = props;
  const { text, words, setText } = useSearchText();
  const [filters, setFilters] = useState<SearchFilters>({ ...NO_FILTERS, conversationId: conv.id });
  const [current, setCurrent] = useState<string | null>(null);
  const [folded, setFolded] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const resultsId = useId();
  const people = usePeople();
  const me = props.client.userId;
  const search = useMessageSearch(props.client, words, filters);
  const results = search.results ?? [];
  const at = results.findIndex((r) => resultKey(r) === current);

  useEffect(() => {
    if (props.focusRequest !== undefined && props.focusRequest > 0) input.current?.select();
  }, [props.focusRequest]);

  // New words or filters: the list shows again.
  useEffect(() => setFolded(false), [words, filters]);

  function open(r: SearchResult) {
    setCurrent(resultKey(r));
    if (window.matchMedia(NARROW).matches) setFolded(true);
    props.onJump(r.seq);
  }

  function step(by: 1 | -1) {
    const next = results[at + by];
    if (next !== undefined) open(next);
    else if (by === 1 && search.hasMore) search.loadMore();
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'ArrowDown') {
      if (!folded && focusFirstResult(list)) e.preventDefault();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      // Enter again steps to the next (older) result, as in a browser's find bar.
      if (results.length > 0 && search.query === text.trim()) step(1);
      else search.flush();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      if (text !== '') setText('');
      else props.onClose();
    }
  }

  const active = text.trim() !== '';
  return (
    <section className="conversation-search" role="search" aria-label="Search in conversation">
      <div className="conversation-search-bar">
        <SearchField value={text} onChange={setText} onKeyDown={onKeyDown} inputRef={input} placeholder="Search in this chat" controls={resultsId} autoFocus />
        {active && results.length > 0 && (
          <span className="search-stepper">
            <span className="muted small" aria-live="polite">
              {at >= 0 ? `${at + 1} of ${results.length}${search.hasMore ? '+' : ''}` : ''}
            </span>
            <button type="button" className="icon-button small search-up" aria-label="Newer result" disabled={at <= 0} onClick={() => step(-1)}>
              <Icon name="down" size={16} />
            </button>
            <button type="button" className="icon-button small" aria-label="Older result" disabled={at >= results.length - 1 && !search.hasMore} onClick={() => step(1)}>
              <Icon name="down" size={16} />
            </button>
          </span>
        )}
        <button type="button" className="icon-button small" aria-label="Close search" onClick={props.onClose}>
          <Icon name="close" size={16} />
        </button>
      </div>
      {active && (
        <>
          <div className="conversation-search-tools">
            <SearchFilterBar filters={filters} onChange={(f) => setFilters({ ...f, conversationId: conv.id })} people={peopleChoices([conv], me, people.name)} />
            {folded && (
              <button type="button" className="link-button" aria-expanded={false} aria-controls={resultsId} onClick={() => setFolded(false)}>
                Show results
              </button>
            )}
          </div>
          {!folded && (
            <div className="conversation-search-results">
              <SearchResults
                id={resultsId}
                search={search}
                listRef={list}
                inputRef={input}
                current={current}
                onOpen={open}
                renderHead={(r) => (
                  <span className="search-result-title" dir="auto">
                    {senderLabel(r, me, people.name)}
                  </span>
                )}
              />
            </div>
          )}
        </>
      )}
    </section>
  );
}
