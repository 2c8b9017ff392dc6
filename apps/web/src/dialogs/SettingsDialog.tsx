import { useCallback, useEffect, useState } from 'react';
import type { DeviceSummary, ParleyClient } from '@parley/client';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { ChangePasswordDialog } from '../account/ChangePasswordDialog';
import { LinkDeviceDialog } from '../linking/LinkDeviceDialog';
import { describeError } from '../lib/errors';
import { formatDayString } from '../lib/format';
import { loadTheme, saveTheme, type ThemeChoice } from '../lib/prefs';
import { BlockedSettings } from './settings/BlockedSettings';
import { DeleteAccountDialog } from './settings/DeleteAccountDialog';
import { NotificationSettings } from './settings/NotificationSettings';
import { PrivacySettings } from './settings/PrivacySettings';
import { ProfileSettings } from './settings/ProfileSettings';
import { StorageSettings } from './settings/StorageSettings';

/** What a device whose name this device cannot read is called (not uploaded yet, or it does not decrypt). */
const UNNAMED = 'Unnamed device';
const NAMES_REFRESH_MS = 5_000;

export function SettingsDialog(props: { client: ParleyClient; onClose: () => void; onSignOut: () => Promise<void> }) {
  const { client } = props;
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const [devices, setDevices] = useState<DeviceSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [view, setView] = useState<'settings' | 'sign-out' | 'link' | 'password' | 'delete'>('settings');
  const [signingOut, setSigningOut] = useState(false);

  const load = useCallback(() => {
    client.devices().then(
      (d) => setDevices(d.filter((x) => !x.revoked).sort((a, b) => Number(b.current) - Number(a.current))),
      (err: unknown) => setError(describeError(err)),
    );
  }, [client]);
  useEffect(() => {
    load();
    // Names arrive encrypted from the devices themselves (a newly linked one once it has the account key): look again now and then.
    const timer = setInterval(load, NAMES_REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  async function revoke(d: DeviceSummary) {
    setRevoking(d.id);
    setError(null);
    try {
      await client.revokeDevice(d.id);
      load();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setRevoking(null);
    }
  }

  if (view === 'link') return <LinkDeviceDialog client={client} onClose={() => setView('settings')} onChanged={load} />;
  if (view === 'password') return <ChangePasswordDialog client={client} onClose={() => setView('settings')} />;
  if (view === 'delete') return <DeleteAccountDialog client={client} onClose={() => setView('settings')} onDeleted={props.onSignOut} />;

  if (view === 'sign-out') {
    return (
      <Dialog title="Sign out?" onClose={() => setView('settings')}>
        <div className="stack">
          <p>
            Signing out deletes everything Parley keeps in this browser: your messages, your encryption keys and this device’s place in your conversations. Your other devices
            keep their history.
          </p>
          <p className="muted">If you sign in here again, this becomes a new device and only receives messages sent from then on.</p>
          <div className="dialog-actions inline">
            <button type="button" className="button" onClick={() => setView('settings')} disabled={signingOut}>
              Cancel
            </button>
            <button
              type="button"
              className="button danger"
              disabled={signingOut}
              onClick={() => {
                setSigningOut(true);
                void props.onSignOut();
              }}
            >
              {signingOut ? 'Signing out…' : 'Sign out and delete local data'}
            </button>
          </div>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog title="Settings" onClose={props.onClose}>
      <div className="stack">
        <ProfileSettings client={client} />

        <fieldset className="theme-picker">
          <legend>Theme</legend>
          <div role="radiogroup" aria-label="Theme" className="segmented">
            {(['system', 'light', 'dark'] as const).map((t) => (
              <label key={t} className={theme === t ? 'checked' : ''}>
                <input
                  type="radio"
                  name="theme"
                  value={t}
                  checked={theme === t}
                  onChange={() => {
                    setTheme(t);
                    saveTheme(t);
                  }}
                />
                {t === 'system' ? 'System' : t === 'light' ? 'Light' : 'Dark'}
              </label>
            ))}
          </div>
        </fieldset>

        <NotificationSettings client={client} />
        <PrivacySettings client={client} />
        <BlockedSettings client={client} />
        <StorageSettings client={client} />

        <h4>Devices</h4>
        <p className="muted small">Every device has its own keys. A new one joins only when one of these approves it. Revoke one you lost: it is signed out and removed from all your conversations.</p>
        {devices === null ? (
          error === null && <span className="spinner" aria-label="Loading devices" />
        ) : (
          <ul className="device-list" aria-label="Devices">
            {devices.map((d) => (
              <li key={d.id} className="device">
                <Icon name="devices" />
                <span className="device-name">
                  {d.name === null ? <span className="unnamed">{UNNAMED}</span> : <span dir="auto">{d.name}</span>}
                  <span className="muted small">{d.status === 'pending' ? 'waiting for approval' : `added ${formatDayString(d.createdDay)}`}</span>
                </span>
                {d.current ? (
                  <span className="tag">This device</span>
                ) : (
                  <button type="button" className="button danger small" aria-label={`Revoke ${d.name ?? UNNAMED}`} disabled={revoking !== null} onClick={() => void revoke(d)}>
                    {revoking === d.id ? 'Revoking…' : 'Revoke'}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        <FormError message={error} />
        <button type="button" className="button" onClick={() => setView('link')}>
          <Icon name="plus" size={18} /> Link a new device
        </button>

        <h4>Account</h4>
        <button type="button" className="button" onClick={() => setView('password')}>
          <Icon name="lock" size={18} /> Change password
        </button>
        <button type="button" className="button danger" onClick={() => setView('sign-out')}>
          Sign out
        </button>
        <button type="button" className="button danger" onClick={() => setView('delete')}>
          Delete account
        </button>
        <p className="muted small about">Parley · messages are end-to-end encrypted with MLS (RFC 9420). The server stores only ciphertext and deletes it once delivered.</p>
      </div>
    </Dialog>
  );
}
