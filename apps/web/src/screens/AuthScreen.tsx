import { useState, type FormEvent } from 'react';
import type { ParleyClient } from '@parley/client';
import { Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/** Sign in or create an account. One form: the button pressed decides which. */
export function AuthScreen(props: { client: ParleyClient; onSignedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<'register' | 'login' | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const action = submitter?.value === 'register' ? 'register' : 'login';
    if (busy !== null) return;
    const name = username.trim();
    if (name === '' || password === '') {
      setError('Enter a username and a password.');
      return;
    }
    if (action === 'register' && password.length < 10) {
      setError('Choose a longer password: at least 10 characters.');
      return;
    }
    setBusy(action);
    setError(null);
    try {
      if (action === 'register') await props.client.register(name, password);
      else await props.client.login(name, password);
      props.onSignedIn();
    } catch (err) {
      setError(describeError(err));
      setBusy(null);
    }
  }

  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/icons/icon.svg" alt="" width={56} height={56} />
          <h1>Parley</h1>
          <p className="muted">Private conversations. Only the people in them can read them — not the server, not whoever runs it.</p>
        </div>
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
              disabled={busy !== null}
              required
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              disabled={busy !== null}
              required
            />
          </label>
          <FormError message={error} />
          <div className="auth-actions">
            <button type="submit" className="button primary" value="login" disabled={busy !== null}>
              {busy === 'login' ? 'Signing in…' : 'Sign in'}
            </button>
            <button type="submit" className="button" value="register" disabled={busy !== null}>
              {busy === 'register' ? 'Creating account…' : 'Register'}
            </button>
          </div>
          <p className="fine-print">
            <Icon name="lock" size={14} /> Your keys are made on this device and never leave it. Signing in on a new device adds it to your conversations from now on.
          </p>
        </form>
      </div>
    </main>
  );
}
