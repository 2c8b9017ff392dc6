import { useState } from 'react';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { DISAPPEAR_OPTIONS } from '../lib/disappearing';
import { describeError } from '../lib/errors';

/** Picks the conversation's disappearing-message timer; every member sees the change in the chat. */
export function DisappearingDialog(props: { current: number | null; onChoose: (ms: number | null) => Promise<void>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState(props.current);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title="Disappearing messages" onClose={props.onClose}>
      <div className="stack">
        <p className="muted">
          New messages disappear from every device this long after they were sent, and the server deletes its copy by then. Any member can change it; everyone sees the change.
        </p>
        <fieldset className="option-list" disabled={busy}>
          <legend className="sr-only">Timer</legend>
          {DISAPPEAR_OPTIONS.map((o) => (
            <label key={o.label}>
              <input
                type="radio"
                name="disappear"
                checked={selected === o.ms}
                onChange={() => {
                  if (selected === o.ms) return;
                  setSelected(o.ms);
                  setBusy(true);
                  setError(null);
                  props.onChoose(o.ms).then(props.onClose, (err: unknown) => {
                    setSelected(props.current);
                    setBusy(false);
                    setError(describeError(err));
                  });
                }}
              />
              {o.label}
            </label>
          ))}
        </fieldset>
        <FormError message={error} />
      </div>
    </Dialog>
  );
}
