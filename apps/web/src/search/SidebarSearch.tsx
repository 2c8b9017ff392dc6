import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { Conversation, GroupId, ParleyClient, SearchResult, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar } from '../components/Avatar';
import { conversationTitle, directMember, isDirect } from '../lib/conversation';
import type { NameOf } from '../lib/people';
import { SearchField, SearchFilterBar, useSearchText, type Choice } from './SearchControls';
import { SearchResults, focusFirstResult, resultKey } from './SearchResults';
import { NO_FILTERS, useMessageSearch, type SearchFilters } from './useMessageSearch';

/** Everyone in these conversations (you first), named as the app names them: the "From" choices. */
export function peopleChoices(conversations: readonly Conversation[], me: UserId | undefined, nameOf: NameOf): Choice<UserId>[] {
  const seen = new Map<UserId, string>();
  for (const c of conversations) for (const m of c.members) if (m.userId !== me && !seen.has(m.userId)) seen.set(m.userId, nameOf(m.userId, m.username));
  const others = [...seen].map(([value, label]) => ({ value, label })).sort((a, b) => a.label.localeCompare(b.label));
  return me === undefined ? others : [{ value: me, label: 'You' }, ...others];
}

/** The sender as a result shows them. */
export function senderLabel(r: SearchResult, me: UserId | undefined, nameOf: NameOf): string {
  return r.sender.userId === me ? 'You' : nameOf(r.sender.userId, r.sender.username);
}

/**
 * The conversation list's search (all chats): while the box holds words,
 * the results (conversation, sender, date, snippet) take the list's place;
 * opening one opens its conversation at that message. The words, filters and
 * results stay when a result is opened, so the next one is a click away.
 */
export function SidebarSearch(props: {
  client: ParleyClient;
  /** Accepted conversations and requests: titles for the results, choices for the filters. */
  conversations: readonly Conversation[];
  me: UserId | undefined;
  /** The open conversation (null: none, the list is all there is, as on a phone after "Back"). */
  selected: GroupId | null;
  onOpen: (conversationId: GroupId, seq: number) => void;
  /** The conversation list, shown while there is nothing searched. */
  children: ReactNode;
}) {
  const { text, words, setText } = useSearchText();
  const [filters, setFilters] = useState<SearchFilters>(NO_FILTERS);
  const [current, setCurrent] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const resultsId = useId();
  const people = usePeople();
  const search = useMessageSearch(props.client, words, filters);
  const active = text.trim() !== '';

  const byId = useMemo(() => new Map(props.conversations.map((c) => [c.id, c])), [props.conversations]);
  const personChoices = peopleChoices(props.conversations, props.me, people.name);
  const conversationChoices = props.conversations
    .map((c) => ({ value: c.id, label: conversationTitle(c, props.me, people.name) }))
    .sort((a, b) => a.label.localeCompare(b.label));

  // Back from a result on a phone (the list was hidden): keyboard focus returns to the result that was opened.
  const { selected } = props;
  useEffect(() => {
    if (selected !== null) return;
    const active = document.activeElement;
    const lost = active === null || active === document.body || (active instanceof HTMLElement && !active.checkVisibility());
    if (lost) list.current?.querySelector<HTMLElement>('button.search-result[aria-current="true"]')?.focus();
  }, [selected]);

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'ArrowDown') {
      if (focusFirstResult(list)) e.preventDefault();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      search.flush();
    } else if (e.key === 'Escape' && text !== '') {
      e.preventDefault();
      setText('');
      setFilters(NO_FILTERS);
    }
  }

  function open(r: SearchResult) {
    setCurrent(resultKey(r));
    props.onOpen(r.conversationId, r.seq);
  }

  return (
    <>
      <div className="sidebar-search" role="search" aria-label="Search all chats">
        <SearchField
          value={text}
          onChange={setText}
          onKeyDown={onKeyDown}
          inputRef={input}
          placeholder="Search messages"
          controls={resultsId}
        />
        {active && <SearchFilterBar filters={filters} onChange={setFilters} people={personChoices} conversations={conversationChoices} />}
      </div>
      {active ? (
        <div className="sidebar-search-results">
          <SearchResults
            id={resultsId}
            search={search}
            listRef={list}
            inputRef={input}
            current={current}
            onOpen={open}
            renderAside={(r) => {
              const c = byId.get(r.conversationId);
              const title = c !== undefined ? conversationTitle(c, props.me, people.name) : 'Conversation';
              const peer = c !== undefined ? directMember(c, props.me) : null;
              return <Avatar name={title} size="sm" group={c === undefined || !isDirect(c)} picture={peer !== null ? people.pictureUrl(peer.userId) : null} />;
            }}
            renderHead={(r) => {
              const c = byId.get(r.conversationId);
              return (
                <span className="search-result-title" dir="auto">
                  {c !== undefined ? conversationTitle(c, props.me, people.name) : 'Conversation'}
                </span>
              );
            }}
            renderLead={(r) => (
              <span className="search-result-sender" dir="auto">
                {senderLabel(r, props.me, people.name)}:{' '}
              </span>
            )}
          />
        </div>
      ) : (
        props.children
      )}
    </>
  );
}
