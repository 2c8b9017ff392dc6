import { useState } from 'react';
import type { ParleyClient, UserId } from '@parley/client';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/**
 * "Block" in contact info, confirmed first: the client drops the person's
 * messages and invitations on all this user's devices, leaves 1:1 chats
 * with them and removes them from the contacts. They are not told.
 */
export function BlockUser(props: { client: ParleyClient; userId: UserId; name: string; onBlocked?: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function block() {
    setBusy(true);
    setError(null);
    try {
      await props.client.blocks.block(props.userId);
      setDone(true);
      setConfirming(false);
      props.onBlocked?.();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  if (done) {
    return (
      <p className="muted small" role="status">
        Blocked. Unblock in Settings.
      </p>
    );
  }
  return confirming ? (
    <div className="confirm-box" role="group" aria-label={`Confirm blocking ${props.name}`}>
      <p>
        Block <span dir="auto">{props.name}</span>? They will not be able to message you or add you to groups, your chats with them end, and they are not told.
      </p>
      <FormError message={error} />
      <div className="dialog-actions inline">
        <button type="button" className="button" onClick={() => setConfirming(false)} disabled={busy}>
          Cancel
        </button>
        <button type="button" className="button danger" onClick={() => void block()} disabled={busy}>
          {busy ? 'Blocking…' : 'Block'}
        </button>
      </div>
    </div>
  ) : (
    <button type="button" className="button danger" aria-label={`Block ${props.name}`} onClick={() => setConfirming(true)}>
      Block
    </button>
  );
}
