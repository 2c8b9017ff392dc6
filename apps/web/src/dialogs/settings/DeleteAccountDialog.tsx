import { useState, type FormEvent } from 'react';
import type { ParleyClient } from '@parley/client';
import { Dialog } from '../../components/Dialog';
import { FormError } from '../../components/FormError';
import { describeError, errorCode } from '../../lib/errors';

/**
 * Settings → "Delete account": the password again (this device's key signs
 * too), then the account is gone for good — this device leaves every
 * conversation, the server revokes every device and deletes the account, and
 * this browser's data is deleted. `onDeleted` returns to the start screen.
 */
export function DeleteAccountDialog(props: { client: ParleyClient; onClose: () => void; onDeleted: () => Promise<void> }) {
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
      await props.client.deleteAccount(password);
    } catch (err) {
      setError(errorCode(err) === 'invalid_credentials' ? 'The password is wrong.' : describeError(err));
      setBusy(false);
      return;
    }
    await props.onDeleted();
  }

  return (
    <Dialog title="Delete account?" onClose={props.onClose}>
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <p>
          This deletes your account for good: you leave every conversation, all your devices are signed out and removed, and the server deletes what it holds about you. Your
          contacts see your devices removed from their conversations. Messages they already have stay on their devices.
        </p>
        <p className="muted small">Your username becomes available to others again after a waiting period.</p>
        <label className="field">
          <span>Password</span>
          <input type="password" name="current-password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} disabled={busy} required />
        </label>
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="button danger" disabled={busy}>
            {busy ? 'Deleting…' : 'Delete account'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
