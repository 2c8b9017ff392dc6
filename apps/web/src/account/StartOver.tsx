import { useState, type FormEvent } from 'react';
import type { ParleyClient } from '@parley/client';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/**
 * For someone who lost every device: the account starts over on this device
 * as a new identity. Nothing readable carries over, so it says so plainly and
 * needs an explicit confirmation before it calls the server.
 */
export function StartOver(props: { client: ParleyClient; username: string; password: string; onBack: () => void; onDone: () => void }) {
  const [username, setUsername] = useState(props.username);
  const [password, setPassword] = useState(props.password);
  const [understood, setUnderstood] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy) return;
    const name = username.trim();
    if (name === '' || password === '') {
      setError('Enter your username and password.');
      return;
    }
    if (!understood) {
      setError('Confirm that you understand what starting over does.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await props.client.resetIdentity(name, password);
      props.onDone();
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <h1>Start over</h1>
          <p className="muted">Only if you lost every device where you were signed in. If you still have one, sign in here instead and approve this browser on it.</p>
        </div>
        <ul className="warning-list">
          <li>Your account gets a new identity, made on this device.</li>
          <li>Messages on your lost devices cannot be read here: they were encrypted for those devices’ keys, which never left them.</li>
          <li>Your old devices are signed out for good.</li>
          <li>Everyone you talk to sees that your safety number changed; contacts who verified you are warned before they send.</li>
        </ul>
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label className="field">
            <span>Username</span>
            <input
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              dir="auto"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              disabled={busy}
              required
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} disabled={busy} required />
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} disabled={busy} />
            <span>I understand that my old messages cannot be recovered and my contacts will see a new safety number.</span>
          </label>
          <FormError message={error} />
          <div className="auth-actions">
            <button type="button" className="button" onClick={props.onBack} disabled={busy}>
              Back to sign in
            </button>
            <button type="submit" className="button danger" disabled={busy || !understood}>
              {busy ? 'Starting over…' : 'Start over'}
            </button>
          </div>
        </form>
      </div>
    </main>
  );
}
