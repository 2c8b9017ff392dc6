import { useState, type FormEvent } from 'react';
import type { Conversation, ParleyClient } from '@parley/client';
import { Avatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { MemberPicker } from './MemberPicker';

const MAX_TITLE = 100;

export function NewGroupDialog(props: { client: ParleyClient; onClose: () => void; onOpen: (conv: Conversation) => void }) {
  const [title, setTitle] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    if (title.trim() === '') return setError('Give the group a name.');
    if (members.length === 0) return setError('Add at least one member.');
    setBusy(true);
    setError(null);
    try {
      props.onOpen(await props.client.createConversation(members, { title: title.trim(), kind: 'group' }));
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <Dialog title="New group" onClose={props.onClose}>
      <form onSubmit={(e) => void submit(e)} className="stack">
        <label className="field">
          <span>Group name</span>
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={MAX_TITLE} autoFocus dir="auto" disabled={busy} />
        </label>
        <MemberPicker client={props.client} onPick={(n) => setMembers((m) => (m.includes(n) ? m : [...m, n]))} disabled={busy} />
        {members.length > 0 && (
          <ul className="chips" aria-label="People to add">
            {members.map((n) => (
              <li key={n} className="chip">
                <Avatar name={n} size="sm" />
                <span dir="auto">{n}</span>
                <button type="button" className="icon-button small" aria-label={`Do not add ${n}`} onClick={() => setMembers((m) => m.filter((x) => x !== n))}>
                  <Icon name="close" size={14} />
                </button>
              </li>
            ))}
          </ul>
        )}
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create group'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
