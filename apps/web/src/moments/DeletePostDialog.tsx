import { useState } from 'react';
import type { MomentPost, ParleyClient } from '@parley/client';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeMomentError } from './text';

/** Asks before deleting an own post: it is removed from every device that got it, with its likes and comments. */
export function DeletePostDialog(props: { client: ParleyClient; post: MomentPost; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const preview = props.post.text.replace(/\s+/g, ' ').slice(0, 140);
  return (
    <Dialog title="Delete this post?" onClose={props.onClose}>
      <div className="stack">
        <p>It is removed, with its photos, likes and comments, from every device of yours and your friends’ that got it. This cannot be undone.</p>
        {preview !== '' && (
          <p className="muted reply-preview" dir="auto">
            {preview}
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
              props.client.moments
                .delete(props.post.id)
                .then(props.onClose, (err: unknown) => {
                  setBusy(false);
                  setError(describeMomentError(err));
                });
            }}
          >
            {busy ? 'Deleting…' : 'Delete post'}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
