import { useState } from 'react';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/** Asks before deleting a message for everyone (it cannot be undone). */
export function DeleteMessageDialog(props: { preview: string; onConfirm: () => Promise<unknown>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title="Delete for everyone?" onClose={props.onClose}>
      <div className="stack">
        <p>
          The message is removed from this conversation on every device that receives the deletion, and “This message was deleted” is shown in its place. This cannot be
          undone.
        </p>
        {props.preview !== '' && (
          <p className="muted reply-preview" dir="auto">
            {props.preview}
          </p>
        )}
        <FormError message={error} />
        <div className="dialog-actions">
          <button type="button" className="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className="button danger"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              setError(null);
              props.onConfirm().then(props.onClose, (err: unknown) => {
                setBusy(false);
                setError(describeError(err));
              });
            }}
          >
            {busy ? 'Deleting…' : 'Delete for everyone'}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
