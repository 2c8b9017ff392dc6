import { useState } from 'react';
import type { MomentList, MomentPerson, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { PersonAvatar } from '../components/Avatar';
import { FormError } from '../components/FormError';
import { MAX_MOMENT_LIST_NAME_LENGTH } from './limits';
import { describeMomentError } from './text';

/** A new list or one being changed: its name and which friends are in it. */
export function ListEditor(props: { client: ParleyClient; list: MomentList | null; friends: readonly MomentPerson[] | null; onDone: () => void }) {
  const people = usePeople();
  const [name, setName] = useState(props.list?.name ?? '');
  const [members, setMembers] = useState<readonly UserId[]>(props.list?.members ?? []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const friends = props.friends;
  // Members who are no longer friends stay in the list (they get nothing while not friends) and can be taken out.
  const others = members.filter((id) => friends?.some((f) => f.userId === id) !== true);

  function save() {
    const trimmed = name.trim();
    if (trimmed === '' || busy) return;
    setBusy(true);
    setError(null);
    props.client.moments
      .saveList({ ...(props.list !== null ? { id: props.list.id } : {}), name: trimmed, members: [...members] })
      .then(props.onDone, (err: unknown) => {
        setBusy(false);
        setError(describeMomentError(err));
      });
  }

  function toggle(id: UserId, on: boolean) {
    setMembers((prev) => (on ? [...prev, id] : prev.filter((m) => m !== id)));
  }

  return (
    <form
      className="stack"
      aria-label={props.list === null ? 'New list' : `Edit ${props.list.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <label className="field">
        <span>List name</span>
        <input value={name} maxLength={MAX_MOMENT_LIST_NAME_LENGTH} placeholder="Close friends" disabled={busy} dir="auto" onChange={(e) => setName(e.target.value)} />
      </label>
      <fieldset className="moment-members">
        <legend>Members</legend>
        {friends === null ? (
          <span className="spinner" aria-label="Loading friends" />
        ) : friends.length === 0 && others.length === 0 ? (
          <p className="muted small">No friends yet. Friends are contacts who have you in their contacts too.</p>
        ) : (
          <ul aria-label="Friends">
            {[...friends.map((f) => ({ userId: f.userId, username: f.username })), ...others.map((id) => ({ userId: id, username: null }))].map((f) => {
              const label = people.name(f.userId, f.username);
              return (
                <li key={f.userId}>
                  <label className="checkbox moment-member">
                    <input type="checkbox" checked={members.includes(f.userId)} disabled={busy} onChange={(e) => toggle(f.userId, e.target.checked)} />
                    <PersonAvatar userId={f.userId} username={f.username} size="sm" />
                    <span dir="auto">{label}</span>
                  </label>
                </li>
              );
            })}
          </ul>
        )}
      </fieldset>
      <FormError message={error} />
      <div className="dialog-actions">
        <button type="button" className="button" disabled={busy} onClick={props.onDone}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={busy || name.trim() === ''}>
          {busy ? 'Saving…' : 'Save list'}
        </button>
      </div>
    </form>
  );
}
