import { useId, useState, type FormEvent } from 'react';
import type { ParleyClient } from '@parley/client';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError, errorCode } from '../lib/errors';

const MIN_PASSWORD = 10;

/**
 * Settings → "Change password": the current password again, the new one
 * twice, and optionally every other session ended (those devices keep their
 * keys and history and sign in again with the new password).
 */
export function ChangePasswordDialog(props: { client: ParleyClient; onClose: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [signOutOthers, setSignOutOthers] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ signedOutOthers: boolean } | null>(null);
  const id = useId();

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy) return;
    if (current === '' || next === '') {
      setError('Enter your current password and a new one.');
      return;
    }
    if (next.length < MIN_PASSWORD) {
      setError(`Choose a longer password: at least ${MIN_PASSWORD} characters.`);
      return;
    }
    if (next !== confirm) {
      setError('The new passwords do not match.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await props.client.changePassword(current, next, { signOutOthers });
      setDone({ signedOutOthers: signOutOthers });
    } catch (err) {
      setError(errorCode(err) === 'invalid_credentials' ? 'The current password is wrong.' : describeError(err));
    } finally {
      setBusy(false);
    }
  }

  if (done !== null) {
    return (
      <Dialog title="Password changed" onClose={props.onClose}>
        <div className="stack">
          <p role="status">
            Your password was changed.{' '}
            {done.signedOutOthers
              ? 'Your other devices were signed out: they keep their messages and sign in again with the new password.'
              : 'Your other devices stay signed in.'}
          </p>
          <div className="dialog-actions inline">
            <button type="button" className="button primary" onClick={props.onClose}>
              Done
            </button>
          </div>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog title="Change password" onClose={props.onClose}>
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <label className="field">
          <span>Current password</span>
          <input type="password" name="current-password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} disabled={busy} required />
        </label>
        <label className="field">
          <span>New password</span>
          <input type="password" name="new-password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} disabled={busy} minLength={MIN_PASSWORD} required />
        </label>
        <label className="field">
          <span>Confirm new password</span>
          <input type="password" name="confirm-password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} disabled={busy} required />
        </label>
        <div className="checkbox">
          <input id={`${id}-others`} type="checkbox" checked={signOutOthers} onChange={(e) => setSignOutOthers(e.target.checked)} disabled={busy} aria-describedby={`${id}-others-hint`} />
          <span>
            <label htmlFor={`${id}-others`}>Sign out my other devices</label>
            <span id={`${id}-others-hint`} className="muted small">
              Do this if someone else may know your password. Those devices keep their keys and messages and sign in again with the new password.
            </span>
          </span>
        </div>
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Changing…' : 'Change password'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
