import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { DeviceLink, ParleyClient } from '@parley/client';
import { StartOver } from '../account/StartOver';
import { Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { LinkPendingScreen } from '../linking/LinkPendingScreen';
import { describeError, errorCode } from '../lib/errors';

type View = { readonly kind: 'form' } | { readonly kind: 'linking'; readonly link: DeviceLink; readonly username: string } | { readonly kind: 'start-over' };

/**
 * Sign in or create an account. One form: the button pressed decides which.
 * Signing in on a browser that holds no device yet links it: the screen
 * shows a code and waits until one of the user's devices approves it.
 */
export function AuthScreen(props: { client: ParleyClient; onSignedIn: () => void }) {
  const { client, onSignedIn } = props;
  const [view, setView] = useState<View>({ kind: 'form' });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<'register' | 'login' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cancelled = useRef<DeviceLink | null>(null);

  // While a link is pending, wait for the other device's answer.
  useEffect(() => {
    if (view.kind !== 'linking') return;
    const { link } = view;
    let live = true;
    link.approved.then(
      () => {
        if (live) onSignedIn();
      },
      (err: unknown) => {
        if (!live || cancelled.current === link) return;
        setBusy(null);
        setError(describeError(err));
        setView({ kind: 'form' });
      },
    );
    return () => {
      live = false;
    };
  }, [view, onSignedIn]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const action = submitter?.value === 'register' ? 'register' : 'login';
    if (busy !== null) return;
    const name = username.trim();
    if (name === '' || password === '') {
      setError('Enter a username and a password.');
      return;
    }
    if (action === 'register' && password.length < 10) {
      setError('Choose a longer password: at least 10 characters.');
      return;
    }
    setBusy(action);
    setError(null);
    try {
      if (action === 'register') {
        await client.register(name, password);
        onSignedIn();
        return;
      }
      try {
        await client.login(name, password);
        onSignedIn();
      } catch (err) {
        // This browser holds no device of the account: it becomes a new one, once approved.
        if (errorCode(err) !== 'new_device') throw err;
        const link = await client.linkDevice(name, password);
        setView({ kind: 'linking', link, username: name });
      }
    } catch (err) {
      setError(describeError(err));
      setBusy(null);
    }
  }

  if (view.kind === 'linking') {
    return (
      <LinkPendingScreen
        link={view.link}
        username={view.username}
        onCancel={() => {
          cancelled.current = view.link;
          // Back to the form whatever the server says: an unapproved link expires by itself.
          void view.link
            .cancel()
            .catch(() => undefined)
            .finally(() => {
              setBusy(null);
              setError(null);
              setView({ kind: 'form' });
            });
        }}
      />
    );
  }

  if (view.kind === 'start-over') {
    return <StartOver client={client} username={username} password={password} onBack={() => setView({ kind: 'form' })} onDone={onSignedIn} />;
  }

  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/icons/icon.svg" alt="" width={56} height={56} />
          <h1>Parley</h1>
          <p className="muted">Private conversations. Only the people in them can read them — not the server, not whoever runs it.</p>
        </div>
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label className="field">
            <span>Username</span>
            <input
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              dir="auto"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              disabled={busy !== null}
              required
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              disabled={busy !== null}
              required
            />
          </label>
          <FormError message={error} />
          <div className="auth-actions">
            <button type="submit" className="button primary" value="login" disabled={busy !== null}>
              {busy === 'login' ? 'Signing in…' : 'Sign in'}
            </button>
            <button type="submit" className="button" value="register" disabled={busy !== null}>
              {busy === 'register' ? 'Creating account…' : 'Register'}
            </button>
          </div>
          <p className="fine-print">
            <Icon name="lock" size={14} /> Your keys are made on this device and never leave it. To sign in on a new device, approve it on one you already use.
          </p>
          <p className="start-over-hint">
            Lost all your devices?{' '}
            <button
              type="button"
              className="link-button"
              disabled={busy !== null}
              onClick={() => {
                setError(null);
                setView({ kind: 'start-over' });
              }}
            >
              Start over
            </button>
          </p>
        </form>
      </div>
    </main>
  );
}
