import { useEffect, useState } from 'react';
import type { ParleyClient } from '@parley/client';
import { FormError } from '../../components/FormError';
import { Switch } from '../../components/Switch';
import { describeError } from '../../lib/errors';
import { writeSettings } from '../../notify/settings';
import { closeWithContent } from '../../notify/show';
import { disableNotifications, enableNotifications, NotifyError, notifyState, type NotifyState } from '../../notify/subscription';

function explain(err: unknown): string {
  return err instanceof NotifyError ? err.message : describeError(err);
}

/**
 * Notifications on this device: a push subscription whose wake-ups carry
 * nothing (this device decides what to show after decrypting), and whether a
 * notification may show who wrote and what.
 */
export function NotificationSettings(props: { client: ParleyClient }) {
  const { client } = props;
  const [state, setState] = useState<NotifyState | null>(null);
  const [busy, setBusy] = useState(false);
  const [savingContent, setSavingContent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    notifyState().then(
      (s) => live && setState(s),
      () => live && setError('Notification settings could not be read here.'),
    );
    return () => {
      live = false;
    };
  }, []);

  async function toggle(on: boolean) {
    setBusy(true);
    setError(null);
    try {
      if (on) await enableNotifications(client);
      else await disableNotifications(client);
    } catch (err) {
      setError(explain(err));
    } finally {
      setState(await notifyState().catch(() => null));
      setBusy(false);
    }
  }

  // The switch shows what is stored: it moves once the write committed (a tab closed meanwhile must not leave it saying "off" while the worker still reads "on").
  async function saveContent(showContent: boolean) {
    setSavingContent(true);
    setError(null);
    try {
      const stored = await writeSettings({ showContent });
      if (!stored.showContent) {
        const registration = await navigator.serviceWorker?.getRegistration().catch(() => undefined);
        if (registration !== undefined) await closeWithContent(registration);
      }
      setState((s) => (s === null ? s : { ...s, showContent: stored.showContent }));
    } catch {
      setError('The setting could not be saved here.');
    } finally {
      setSavingContent(false);
    }
  }

  const blocked = state?.permission === 'denied';
  return (
    <>
      <h4>Notifications</h4>
      {state !== null && !state.supported ? (
        <p className="muted small">This browser cannot show notifications for Parley.</p>
      ) : (
        <>
          <Switch
            label="Notifications on this device"
            hint={
              blocked
                ? 'Blocked in this browser’s site settings: allow notifications for this site there first.'
                : 'New messages wake this device; it decrypts them and decides what to show. The wake-up itself carries nothing.'
            }
            checked={state?.enabled ?? false}
            disabled={state === null || busy}
            onChange={(on) => void toggle(on)}
          />
          <Switch
            label="Show message content in notifications"
            hint="Off: notifications say only “New message”, not who wrote or what."
            checked={state?.showContent ?? true}
            disabled={state === null || savingContent}
            onChange={(showContent) => void saveContent(showContent)}
          />
        </>
      )}
      <FormError message={error} />
    </>
  );
}
