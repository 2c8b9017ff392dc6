import { useState } from 'react';
import type { DeviceLink } from '@parley/client';
import { Icon } from '../components/Dialog';
import { formatCountdown, useNow } from '../lib/time';
import { QrCode } from './QrCode';

/**
 * What a new browser shows after "Sign in" while it waits for one of the
 * user's devices to approve it: the QR code to scan and the short code to
 * type, what this device will be called, and how long the code lasts. The
 * caller waits on `link.approved` and leaves this screen when it settles.
 */
export function LinkPendingScreen(props: { link: DeviceLink; username: string; onCancel: () => void }) {
  const { link } = props;
  const now = useNow();
  const [copied, setCopied] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const left = link.expiresAt - now;
  const expired = left <= 0;

  async function copy() {
    try {
      await navigator.clipboard.writeText(link.code);
      setCopied(true);
    } catch {
      // No clipboard permission: the code is selectable text, so it can still be copied by hand.
      setCopied(false);
    }
  }

  return (
    <main className="auth">
      <div className="auth-card link-card">
        <div className="auth-brand">
          <h1>Link this device</h1>
          <p className="muted">
            On a device where you are signed in as <strong dir="auto">{props.username}</strong>, open <strong>Settings</strong> and choose <strong>Link a new device</strong>. Then scan
            this code, or type the code below.
          </p>
        </div>

        <div className="link-qr">
          <QrCode text={link.uri} label="QR code to link this device" />
        </div>

        <div className="link-code-box">
          <span className="link-code" translate="no">
            {link.code}
          </span>
          <button type="button" className="button small" onClick={() => void copy()} aria-label="Copy code">
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>

        <dl className="link-facts">
          <div>
            <dt>This device</dt>
            <dd dir="auto">{link.deviceName}</dd>
          </div>
          <div>
            <dt>Code expires</dt>
            <dd>
              {expired ? (
                'Expired'
              ) : (
                <time dateTime={new Date(link.expiresAt).toISOString()} aria-label={`in ${Math.max(1, Math.ceil(left / 60_000))} minutes`}>
                  in {formatCountdown(left)}
                </time>
              )}
            </dd>
          </div>
        </dl>

        <p className="link-waiting" role="status">
          {expired ? (
            'This code expired. Cancel and sign in again to get a new one.'
          ) : (
            <>
              <span className="spinner small-spinner" aria-hidden="true" /> Waiting for approval…
            </>
          )}
        </p>

        <button
          type="button"
          className="button"
          disabled={cancelling}
          onClick={() => {
            setCancelling(true);
            props.onCancel();
          }}
        >
          {cancelling ? 'Cancelling…' : 'Cancel'}
        </button>

        <p className="fine-print">
          <Icon name="lock" size={14} /> This device made its own keys. Only after approval is it added to your conversations, and it receives messages sent from then on. Your
          contacts see that your safety number changed.
        </p>
      </div>
    </main>
  );
}
