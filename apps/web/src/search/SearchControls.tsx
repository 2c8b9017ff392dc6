import { useCallback, useId, useState, type KeyboardEvent, type RefObject } from 'react';
import type { GroupId, UserId } from '@parley/client';
import { Icon } from '../components/Dialog';
import { MAX_QUERY_CHARS, type SearchFilters } from './useMessageSearch';

/**
 * The box's text, and the words searched for: the same, except while an
 * input method is composing (pinyin, kana, Hangul): what it shows then is not
 * yet what the person means, so the search waits for the composition to end.
 */
export function useSearchText(): { text: string; words: string; setText: (text: string, composing?: boolean) => void } {
  const [text, setTextState] = useState('');
  const [words, setWords] = useState('');
  const setText = useCallback((next: string, composing = false) => {
    setTextState(next);
    if (!composing) setWords(next);
  }, []);
  return { text, words, setText };
}

/** The search box: accessible name "Search messages", a clear button while it holds text. */
export function SearchField(props: {
  value: string;
  /** `composing`: an input method is still composing this text. */
  onChange: (text: string, composing: boolean) => void;
  onKeyDown: (e: KeyboardEvent<HTMLInputElement>) => void;
  onFocus?: () => void;
  inputRef: RefObject<HTMLInputElement | null>;
  placeholder: string;
  /** The results list the box controls (for assistive technology). */
  controls: string;
  autoFocus?: boolean;
}) {
  return (
    <div className="search-field">
      <Icon name="search" size={17} />
      <input
        ref={props.inputRef}
        type="search"
        aria-label="Search messages"
        aria-controls={props.controls}
        placeholder={props.placeholder}
        value={props.value}
        maxLength={MAX_QUERY_CHARS}
        autoComplete="off"
        spellCheck={false}
        enterKeyHint="search"
        dir="auto"
        autoFocus={props.autoFocus}
        onChange={(e) => props.onChange(e.target.value, (e.nativeEvent as InputEvent).isComposing === true)}
        onCompositionEnd={(e) => props.onChange(e.currentTarget.value, false)}
        onKeyDown={(e) => {
          // Enter or Esc that ends a composition belongs to the input method.
          if (!e.nativeEvent.isComposing) props.onKeyDown(e);
        }}
        onFocus={props.onFocus}
      />
      {props.value !== '' && (
        <button
          type="button"
          className="icon-button small"
          aria-label="Clear search"
          onClick={() => {
            props.onChange('', false);
            props.inputRef.current?.focus();
          }}
        >
          <Icon name="close" size={15} />
        </button>
      )}
    </div>
  );
}

export interface Choice<T> {
  readonly value: T;
  readonly label: string;
}

/** "From", optionally "In", and "Attachments only": native controls, so keyboards, screen readers and phones all know them. */
export function SearchFilterBar(props: {
  filters: SearchFilters;
  onChange: (filters: SearchFilters) => void;
  people: readonly Choice<UserId>[];
  /** The list search's conversations; absent inside a conversation. */
  conversations?: readonly Choice<GroupId>[];
}) {
  const id = useId();
  const { filters } = props;
  return (
    <div className="search-filters" role="group" aria-label="Search filters">
      <label className="search-filter">
        <span>From</span>
        <select
          className="select"
          value={filters.from ?? ''}
          onChange={(e) => props.onChange({ ...filters, from: e.target.value === '' ? null : (e.target.value as UserId) })}
        >
          <option value="">Anyone</option>
          {props.people.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      {props.conversations !== undefined && (
        <label className="search-filter">
          <span>In</span>
          <select
            className="select"
            value={filters.conversationId ?? ''}
            onChange={(e) => props.onChange({ ...filters, conversationId: e.target.value === '' ? null : (e.target.value as GroupId) })}
          >
            <option value="">All chats</option>
            {props.conversations.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
      )}
      <label className="search-filter search-filter-check" htmlFor={`${id}-att`}>
        <input id={`${id}-att`} type="checkbox" checked={filters.attachmentsOnly} onChange={(e) => props.onChange({ ...filters, attachmentsOnly: e.target.checked })} />
        <span>Attachments only</span>
      </label>
    </div>
  );
}
