import { useState, type FormEvent } from 'react';
import { FormError } from '../components/FormError';
import { useSession } from '../app/session';
import { describeError, errorCode } from '../lib/errors';

/**
 * Shown when this device's session ended while the device itself is still
 * one of the user's (the password was changed elsewhere with "Sign out my
 * other devices", or an administrator reset it): the password signs it in
 * again with its own key, keeping its keys and history.
 */
export function SignInAgain(props: { username: string }) {
  const session = useSession();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy) return;
    if (password === '') {
      setError('Enter your password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await session.signInAgain(password);
    } catch (err) {
      setError(errorCode(err) === 'invalid_credentials' ? 'Wrong password.' : describeError(err));
      setBusy(false);
    }
  }

  return (
    <div className="banner sign-in-again" role="region" aria-label="Signed out">
      <p>
        This device was signed out, for example because your password was changed. Sign in again as <strong dir="auto">{props.username}</strong>: your messages stay on this device.
      </p>
      <form className="inline-field" onSubmit={(e) => void submit(e)} noValidate>
        <label className="field grow">
          <span>Password</span>
          <input type="password" name="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} disabled={busy} required />
        </label>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in again'}
        </button>
      </form>
      <FormError message={error} />
    </div>
  );
}
