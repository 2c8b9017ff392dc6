import { useState, type FormEvent } from 'react';
import type { Conversation, ParleyClient } from '@parley/client';
import { Dialog } from '../components/Dialog';
import { directPeer } from '../lib/conversation';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/** Starts (or reopens) a 1:1 chat with a user found by their exact username. */
export function NewChatDialog(props: { client: ParleyClient; existing: readonly Conversation[]; onClose: () => void; onOpen: (conv: Conversation) => void }) {
  const [username, setUsername] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const name = username.trim();
    if (name === '' || busy) return;
    setBusy(true);
    setError(null);
    try {
      const user = await props.client.lookupUser(name);
      if (user.userId === props.client.userId) throw new Error('self');
      const open = props.existing.find((c) => c.status === 'active' && directPeer(c, props.client.userId) === user.username);
      props.onOpen(open ?? (await props.client.createConversation([user.username], { kind: 'direct' })));
    } catch (err) {
      setError(err instanceof Error && err.message === 'self' ? 'That is you. Enter someone else’s username.' : describeError(err));
      setBusy(false);
    }
  }

  return (
    <Dialog title="New chat" onClose={props.onClose}>
      <form onSubmit={(e) => void submit(e)} className="stack">
        <p className="muted">Enter the exact username of the person you want to talk to. Parley has no public directory: nobody can browse who is here.</p>
        <label className="field">
          <span>Username</span>
          <input value={username} onChange={(e) => setUsername(e.target.value)} autoFocus autoCapitalize="none" spellCheck={false} dir="auto" disabled={busy} />
        </label>
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy || username.trim() === ''}>
            {busy ? 'Starting…' : 'Start chat'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
