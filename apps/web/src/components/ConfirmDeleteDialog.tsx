import { useState, type ReactNode } from 'react';
import { Dialog } from './Dialog';
import { FormError } from './FormError';

/**
 * Asks before deleting something that cannot be undone: what goes and where
 * (`children`), a preview of it, and a button that runs `onConfirm`; its
 * failure is shown in the dialog in the caller's words (`describe`).
 */
export function ConfirmDeleteDialog(props: {
  title: string;
  confirmLabel: string;
  preview: string;
  onConfirm: () => Promise<unknown>;
  describe: (err: unknown) => string;
  onClose: () => void;
  children: ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div className="stack">
        <p>{props.children}</p>
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
                setError(props.describe(err));
              });
            }}
          >
            {busy ? 'Deleting…' : props.confirmLabel}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
