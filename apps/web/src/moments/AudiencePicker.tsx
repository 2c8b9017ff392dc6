import type { MomentAudience, MomentList } from '@parley/client';

export type AudienceKind = MomentAudience['kind'];

/** An audience to post to from the picker's state; null when it names no list yet. */
export function audienceFrom(kind: AudienceKind, lists: readonly string[]): MomentAudience | null {
  if (kind === 'friends') return { kind: 'friends' };
  return lists.length === 0 ? null : { kind, lists };
}

/**
 * "Who can see it": all friends, only the members of some lists, or every
 * friend except them. The lists are this user's own (Visibility and lists).
 */
export function AudiencePicker(props: {
  kind: AudienceKind;
  lists: readonly string[];
  available: readonly MomentList[] | null;
  friendCount: number | null;
  disabled: boolean;
  onChange: (kind: AudienceKind, lists: readonly string[]) => void;
}) {
  const { kind, available } = props;
  const choices: ReadonlyArray<{ value: AudienceKind; label: string }> = [
    { value: 'friends', label: props.friendCount === null ? 'All friends' : `All friends (${props.friendCount})` },
    { value: 'lists', label: 'Only lists…' },
    { value: 'except', label: 'All except lists…' },
  ];
  return (
    <fieldset className="history-choice moment-audience-picker" role="radiogroup" aria-labelledby="moment-audience-legend">
      <legend id="moment-audience-legend">Who can see it</legend>
      {choices.map((c) => (
        <label key={c.value} className="moment-radio">
          <input type="radio" name="moment-audience" value={c.value} checked={kind === c.value} disabled={props.disabled} onChange={() => props.onChange(c.value, props.lists)} /> {c.label}
        </label>
      ))}
      {props.friendCount === 0 && (
        <p className="muted small">No friends yet: friends are contacts who have you in their contacts too. Once they are, they get your recent posts to all friends.</p>
      )}
      {kind !== 'friends' &&
        (available === null ? null : available.length === 0 ? (
          <p className="muted small">No lists yet. Make one (“Close friends”, “Family”) under “Visibility and lists” (the gear above).</p>
        ) : (
          <div className="moment-list-choice" role="group" aria-label={kind === 'lists' ? 'Only these lists' : 'All except these lists'}>
            {available.map((l) => (
              <label key={l.id} className="checkbox">
                <input
                  type="checkbox"
                  checked={props.lists.includes(l.id)}
                  disabled={props.disabled}
                  onChange={(e) => props.onChange(kind, e.target.checked ? [...props.lists, l.id] : props.lists.filter((id) => id !== l.id))}
                />
                <span dir="auto">
                  {l.name} <span className="muted small">({l.members.length})</span>
                </span>
              </label>
            ))}
          </div>
        ))}
    </fieldset>
  );
}
