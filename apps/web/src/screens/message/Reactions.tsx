import { useState, type RefObject } from 'react';
import type { UserId } from '@parley/client';
import { Popover } from '../../components/Popover';
import { COMMON_EMOJI, pickEmoji } from '../../lib/content-rules';
import type { NameOf } from '../../lib/people';

/** One emoji on a message and who chose it (the SDK's Message.reactions entries). */
export interface ReactionSummary {
  readonly emoji: string;
  readonly users: ReadonlyArray<{ readonly userId: string; readonly username: string | null }>;
  readonly mine: boolean;
}

function names(r: ReactionSummary, me: string | undefined, nameOf?: NameOf): string {
  return r.users.map((u) => (u.userId === me ? 'You' : nameOf !== undefined ? nameOf(u.userId as UserId, u.username) : (u.username ?? 'Unknown user'))).join(', ');
}

/**
 * The reaction chips under a bubble: each emoji with its count; who reacted
 * is in the tooltip and the accessible name. A click on your own removes it,
 * a click on someone else's adds the same one (one reaction per person).
 */
export function ReactionChips(props: { reactions: readonly ReactionSummary[]; me: string | undefined; nameOf?: NameOf; onReact: ((emoji: string | null) => void) | null }) {
  if (props.reactions.length === 0) return null;
  return (
    <ul className="reactions" aria-label="Reactions">
      {props.reactions.map((r) => {
        const who = names(r, props.me, props.nameOf);
        return (
          <li key={r.emoji}>
            <button
              type="button"
              className={`reaction-chip${r.mine ? ' mine' : ''}`}
              aria-pressed={r.mine}
              aria-label={`${r.emoji} ${r.users.length}: ${who}${r.mine ? ' (click to remove yours)' : ''}`}
              title={who}
              disabled={props.onReact === null}
              onClick={() => props.onReact?.(r.mine ? null : r.emoji)}
            >
              <span className="reaction-emoji">{r.emoji}</span>
              {r.users.length > 1 && <span className="reaction-count">{r.users.length}</span>}
            </button>
          </li>
        );
      })}
    </ul>
  );
}

/** Common emoji as one-click buttons, and a field for any other emoji. */
export function ReactionPicker(props: { anchor: RefObject<HTMLElement | null>; align: 'start' | 'end'; onPick: (emoji: string) => void; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const [invalid, setInvalid] = useState(false);
  return (
    <Popover anchor={props.anchor} onClose={props.onClose} label="Choose a reaction" align={props.align} className="reaction-picker">
      <div className="emoji-row">
        {COMMON_EMOJI.map((e) => (
          <button key={e} type="button" className="emoji-button" aria-label={`React with ${e}`} onClick={() => props.onPick(e)}>
            {e}
          </button>
        ))}
      </div>
      <form
        className="emoji-form"
        onSubmit={(ev) => {
          ev.preventDefault();
          const e = pickEmoji(typed);
          if (e === null) setInvalid(true);
          else props.onPick(e);
        }}
      >
        <input
          aria-label="Any emoji"
          placeholder="Any emoji…"
          value={typed}
          aria-invalid={invalid}
          onChange={(e) => {
            setTyped(e.target.value);
            setInvalid(false);
          }}
        />
        <button type="submit" className="button small">
          React
        </button>
      </form>
      {invalid && (
        <p className="small composer-error" role="alert">
          Type an emoji.
        </p>
      )}
    </Popover>
  );
}
