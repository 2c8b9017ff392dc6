import { useEffect, useState } from 'react';
import type { MomentList, MomentWindow, ParleyClient } from '@parley/client';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { useFriends, useLists, useMomentsEvent } from './hooks';
import { WINDOW_OPTIONS } from './limits';
import { ListEditor } from './ListEditor';
import { describeMomentError } from './text';

/**
 * Visibility and lists: how far back friends may look (the visibility window,
 * enforced by what devices keep and send) and this user's lists of friends
 * for audiences (kept on their own devices only).
 */
export function MomentsSettingsDialog(props: { client: ParleyClient; onClose: () => void }) {
  const { client } = props;
  const lists = useLists(client);
  const friends = useFriends(client);
  const [editing, setEditing] = useState<MomentList | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<MomentList | null>(null);

  if (editing !== null) {
    return (
      <Dialog title={editing === 'new' ? 'New list' : 'Edit list'} onClose={() => setEditing(null)}>
        <ListEditor client={client} list={editing === 'new' ? null : editing} friends={friends} onDone={() => setEditing(null)} />
      </Dialog>
    );
  }
  if (confirm !== null) {
    return (
      <Dialog title={`Delete ${confirm.name}?`} onClose={() => setConfirm(null)}>
        <div className="stack">
          <p>Posts already sent to this list stay with the people who got them.</p>
          <div className="dialog-actions">
            <button type="button" className="button" onClick={() => setConfirm(null)}>
              Cancel
            </button>
            <button
              type="button"
              className="button danger"
              onClick={() => {
                const id = confirm.id;
                setConfirm(null);
                client.moments
                  .deleteList(id)
                  .catch((err: unknown) => setError(describeMomentError(err)));
              }}
            >
              Delete list
            </button>
          </div>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title="Visibility and lists" onClose={props.onClose}>
      <div className="stack">
        <WindowChoice client={client} />
        <section className="stack" aria-labelledby="moment-lists-title">
          <h3 id="moment-lists-title">Lists</h3>
          <p className="muted small">Post to a list, or to everyone except it. Lists stay on your devices; nobody sees them, not even their members.</p>
          {lists === null ? (
            <span className="spinner" aria-label="Loading lists" />
          ) : lists.length === 0 ? (
            <p className="muted">No lists yet.</p>
          ) : (
            <ul className="moment-lists" aria-label="Lists">
              {lists.map((l) => (
                <li key={l.id}>
                  <span className="grow" dir="auto">
                    {l.name} <span className="muted small">({l.members.length})</span>
                  </span>
                  <button type="button" className="button small" aria-label={`Edit ${l.name}`} onClick={() => setEditing(l)}>
                    Edit
                  </button>
                  <button type="button" className="button small danger" aria-label={`Delete ${l.name}`} onClick={() => setConfirm(l)}>
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          )}
          <FormError message={error} />
          <div>
            <button type="button" className="button" onClick={() => setEditing('new')}>
              New list
            </button>
          </div>
        </section>
      </div>
    </Dialog>
  );
}

function WindowChoice(props: { client: ParleyClient }) {
  const { client } = props;
  const [value, setValue] = useState<MomentWindow | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    client.moments.window().then(setValue, (err: unknown) => setError(describeMomentError(err)));
  };
  useEffect(load, [client]);
  useMomentsEvent(client, (e) => {
    if (e.kind === 'window') load();
  });
  return (
    <fieldset className="history-choice" role="radiogroup" aria-labelledby="moment-window-legend">
      <legend id="moment-window-legend">Friends can see</legend>
      {WINDOW_OPTIONS.map((o) => (
        <label key={o.value} className="moment-radio">
          <input
            type="radio"
            name="moment-window"
            value={o.value}
            checked={value === o.value}
            disabled={value === null}
            onChange={() => {
              const prev = value;
              setValue(o.value);
              setError(null);
              client.moments
                .setWindow(o.value)
                .catch((err: unknown) => {
                  setValue(prev);
                  setError(describeMomentError(err));
                });
            }}
          />{' '}
          {o.label}
        </label>
      ))}
      <p className="muted small">Older posts are removed from friends’ devices, not only hidden. Your own devices keep all your posts.</p>
      <FormError message={error} />
    </fieldset>
  );
}
