import { useEffect, useState, type FormEvent } from 'react';
import type { HistoryScope, ParleyClient, PendingDevice } from '@parley/client';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { formatDayString } from '../lib/format';
import { formatCountdown, useNow } from '../lib/time';
import { canScanQrCodes, CodeScanner } from './CodeScanner';

type Step =
  | { readonly kind: 'enter'; readonly scanning: boolean }
  | { readonly kind: 'approve'; readonly input: string; readonly device: PendingDevice }
  | { readonly kind: 'done'; readonly approved: boolean };

/**
 * Settings → "Link a new device", on a device that is already signed in:
 * read the new device's code (typed, or its QR code through the camera),
 * look at what the server says is waiting, then approve or reject it.
 * Approving signs the new device's key with this device's key, so the server
 * cannot slip in a device of its own.
 */
export function LinkDeviceDialog(props: { client: ParleyClient; onClose: () => void; onChanged: () => void }) {
  const { client } = props;
  const [step, setStep] = useState<Step>({ kind: 'enter', scanning: false });
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState<'inspect' | 'approve' | 'reject' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [camera, setCamera] = useState(false);
  // How much history the new device gets from this one: the last month unless the user chooses otherwise.
  const [history, setHistory] = useState<HistoryScope>('month');

  useEffect(() => {
    let live = true;
    void canScanQrCodes().then((ok) => live && setCamera(ok));
    return () => {
      live = false;
    };
  }, []);

  async function inspect(input: string) {
    if (busy !== null) return;
    setBusy('inspect');
    setError(null);
    try {
      const device = await client.inspectLink(input);
      setStep({ kind: 'approve', input, device });
    } catch (err) {
      setError(describeError(err));
      setStep({ kind: 'enter', scanning: false });
    } finally {
      setBusy(null);
    }
  }

  async function decide(approve: boolean) {
    if (step.kind !== 'approve' || busy !== null) return;
    setBusy(approve ? 'approve' : 'reject');
    setError(null);
    try {
      if (approve) await client.approveLink(step.input, { history });
      else await client.rejectLink(step.input);
      setStep({ kind: 'done', approved: approve });
      props.onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  if (step.kind === 'approve') {
    return <ApproveStep device={step.device} busy={busy} error={error} history={history} onHistory={setHistory} onDecide={(a) => void decide(a)} onClose={props.onClose} />;
  }

  if (step.kind === 'done') {
    return (
      <Dialog title={step.approved ? 'Device linked' : 'Device rejected'} onClose={props.onClose}>
        <div className="stack">
          <p role="status">
            {step.approved ? (
              <>
                The new device is now one of your devices. Your devices add it to your conversations; it receives messages sent from now on. Its name appears in your device list once it has
                received your devices’ key.
                {history !== 'none' && ' This device sends it your history, encrypted, once it has been added: keep Parley open here until the new device shows it.'}
              </>
            ) : (
              <>
                The device was not added. If you did not try to sign in there, change your password: someone else knows it.
              </>
            )}
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

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const input = code.trim();
    if (input === '') {
      setError('Type the code shown on the new device.');
      return;
    }
    void inspect(input);
  }

  return (
    <Dialog title="Link a new device" onClose={props.onClose}>
      <div className="stack">
        <p className="muted">
          On the new device, open Parley and sign in with your username and password. It then shows a QR code and a code like <span className="mono">ABCDE-FGHJK</span>.
        </p>
        {step.scanning ? (
          <>
            <CodeScanner
              onScan={(text) => void inspect(text)}
              onError={(message) => {
                setError(message);
                setStep({ kind: 'enter', scanning: false });
              }}
            />
            <button type="button" className="button" onClick={() => setStep({ kind: 'enter', scanning: false })}>
              Type the code instead
            </button>
          </>
        ) : (
          <form className="stack" onSubmit={submit} noValidate>
            <label className="field">
              <span>Code from the new device</span>
              <input
                name="link-code"
                className="mono"
                autoComplete="off"
                autoCapitalize="characters"
                spellCheck={false}
                placeholder="ABCDE-FGHJK"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                disabled={busy !== null}
                maxLength={600}
                required
              />
            </label>
            <FormError message={error} />
            <div className="dialog-actions inline">
              {camera && (
                <button
                  type="button"
                  className="button"
                  disabled={busy !== null}
                  onClick={() => {
                    setError(null);
                    setStep({ kind: 'enter', scanning: true });
                  }}
                >
                  Scan QR code
                </button>
              )}
              <button type="submit" className="button primary" disabled={busy !== null}>
                {busy === 'inspect' ? 'Looking it up…' : 'Continue'}
              </button>
            </div>
          </form>
        )}
        {step.scanning && <FormError message={error} />}
      </div>
    </Dialog>
  );
}

const HISTORY_CHOICES: ReadonlyArray<{ value: HistoryScope; label: string; hint: string }> = [
  { value: 'none', label: 'None', hint: 'Only messages sent from now on.' },
  { value: 'month', label: 'Last month', hint: 'Messages and kept media from the last 30 days.' },
  { value: 'all', label: 'Everything', hint: 'All the history this device holds.' },
];

/**
 * "Transfer history": how much of this device's history the new device gets.
 * It travels encrypted as blobs; the key goes only to your own devices.
 */
function HistoryChoice(props: { value: HistoryScope; disabled: boolean; onChange: (value: HistoryScope) => void }) {
  return (
    <fieldset className="history-choice" role="radiogroup" aria-labelledby="transfer-history-legend">
      <legend id="transfer-history-legend">Transfer history</legend>
      {HISTORY_CHOICES.map((c) => (
        <div key={c.value} className="history-choice-option">
          <label>
            <input
              type="radio"
              name="transfer-history"
              value={c.value}
              checked={props.value === c.value}
              disabled={props.disabled}
              aria-describedby={`transfer-history-${c.value}`}
              onChange={() => props.onChange(c.value)}
            />{' '}
            {c.label}
          </label>
          <span id={`transfer-history-${c.value}`} className="muted small">
            {c.hint}
          </span>
        </div>
      ))}
    </fieldset>
  );
}

function ApproveStep(props: {
  device: PendingDevice;
  busy: 'inspect' | 'approve' | 'reject' | null;
  error: string | null;
  history: HistoryScope;
  onHistory: (value: HistoryScope) => void;
  onDecide: (approve: boolean) => void;
  onClose: () => void;
}) {
  const { device } = props;
  const now = useNow();
  const left = device.expiresAt - now;
  return (
    <Dialog title="Approve new device" onClose={props.onClose}>
      <div className="stack">
        <div className="contact-head">
          <span className="device-badge" aria-hidden="true">
            <Icon name="devices" size={28} />
          </span>
          <div>
            <h3>New device</h3>
            <p className="muted">Asked to join on {formatDayString(device.createdDay)}</p>
            <p className="muted small">Its name is not shown here: the server never learns device names, only your devices do.</p>
          </div>
        </div>
        <dl className="link-facts">
          <div>
            <dt>Key</dt>
            <dd>
              {device.keyChecked ? (
                <span className="verified">
                  <Icon name="checkShield" size={16} /> Matches the QR code
                </span>
              ) : (
                'Not checked: the code was typed. Scanning the QR code also checks the key.'
              )}
            </dd>
          </div>
          <div>
            <dt>Request expires</dt>
            <dd>{left > 0 ? `in ${formatCountdown(left)}` : 'Expired'}</dd>
          </div>
        </dl>
        <p className="warning-note">
          <Icon name="alert" size={16} /> Approve only a device you are holding yourself. Once approved, it can read every message sent to you from now on.
        </p>
        <HistoryChoice value={props.history} disabled={props.busy !== null} onChange={props.onHistory} />
        <FormError message={props.error} />
        <div className="dialog-actions inline">
          <button type="button" className="button danger" disabled={props.busy !== null} onClick={() => props.onDecide(false)}>
            {props.busy === 'reject' ? 'Rejecting…' : 'Reject'}
          </button>
          <button type="button" className="button primary" disabled={props.busy !== null || left <= 0} onClick={() => props.onDecide(true)}>
            {props.busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
