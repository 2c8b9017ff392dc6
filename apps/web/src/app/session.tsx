import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { createClient, IndexedDbStore, type ClientEvents, type ParleyClient } from '@parley/client';
import { deviceName } from '../lib/prefs';
import { holdDeviceLock, type HeldLock } from '../notify/device-lock';
import { attachNotifier } from '../notify/notifier';
import { deleteSettings } from '../notify/settings';
import { forgetSubscription } from '../notify/subscription';

/**
 * One browser profile holds one Parley device: its keys, MLS state and
 * decrypted history live in one IndexedDB database, opened here and handed
 * to the client SDK. Nothing else in the app touches storage or the network.
 */
const DATABASE = 'parley';

export type Phase =
  | { readonly kind: 'loading' }
  | { readonly kind: 'signed-out'; readonly client: ParleyClient }
  /** `epoch` grows each time the same client signs in again, so the shell starts afresh. */
  | { readonly kind: 'signed-in'; readonly client: ParleyClient; readonly epoch: number }
  | { readonly kind: 'failed'; readonly message: string };

/** Shown while another tab (or the service worker, for a moment after a push) runs this device. */
export const WAITING_FOR_DEVICE = 'Parley is open in another tab of this browser (or just checking for new messages). It continues here as soon as that is done.';
/** A lock freed within this long (a tab reloading, a push handled) shows no notice. */
const WAITING_NOTICE_DELAY_MS = 700;

interface Opened {
  client: ParleyClient;
  store: IndexedDbStore;
  lock: HeldLock;
  /** Detaches the page's notifier (notify/notifier.ts). */
  quiet: () => void;
}

/**
 * Opens the device under the device lock (notify/device-lock.ts): one client
 * per device at a time, across tabs and the service worker.
 */
async function open(onWaiting: () => void, signal: AbortSignal): Promise<Opened> {
  const lock = await holdDeviceLock(onWaiting, signal);
  try {
    const store = await IndexedDbStore.open(DATABASE);
    try {
      const client = await createClient({ serverUrl: window.location.origin, store, deviceName: deviceName() });
      return { client, store, lock, quiet: attachNotifier(client) };
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function closeOpened(o: Opened): Promise<void> {
  o.quiet();
  try {
    await o.client.close();
    await o.store.close();
  } finally {
    o.lock.release();
  }
}

export interface Session {
  readonly phase: Phase;
  /** Called after a successful register/login on the signed-out client. */
  readonly signedIn: () => void;
  /** Signs out on the server (if reachable) and deletes everything this browser holds. */
  readonly signOut: () => Promise<void>;
  /**
   * After this device's session ended (a password change elsewhere, an admin
   * reset), signs it in again with the password and its own key, keeping its
   * keys and history. Throws (and changes nothing) when the password is wrong.
   */
  readonly signInAgain: (password: string) => Promise<void>;
}

export function useSessionState(): Session {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  // Each generation opens the store and a client once; signing out starts the next one.
  const [generation, setGeneration] = useState(0);
  const opened = useRef<Opened | undefined>(undefined);

  useEffect(() => {
    let cancelled = false;
    let mine: Opened | undefined;
    const abort = new AbortController();
    setPhase({ kind: 'loading' });
    let notice: ReturnType<typeof setTimeout> | undefined;
    const waiting = () => {
      notice = setTimeout(() => {
        if (!cancelled && mine === undefined) setPhase({ kind: 'failed', message: WAITING_FOR_DEVICE });
      }, WAITING_NOTICE_DELAY_MS);
    };
    open(waiting, abort.signal).then(
      async (o) => {
        clearTimeout(notice);
        if (cancelled) {
          await closeOpened(o);
          return;
        }
        mine = o;
        opened.current = o;
        setPhase(o.client.userId === undefined ? { kind: 'signed-out', client: o.client } : { kind: 'signed-in', client: o.client, epoch: 0 });
      },
      (err: unknown) => {
        clearTimeout(notice);
        if (cancelled) return;
        const blocked = err instanceof Error && /indexeddb|blocked|quota|storage/i.test(`${err.name} ${err.message}`);
        setPhase({
          kind: 'failed',
          message: blocked
            ? 'This browser does not let Parley keep its encrypted data (private browsing or storage disabled). Allow site storage and reload.'
            : 'Parley could not start. Reload the page to try again.',
        });
      },
    );
    return () => {
      cancelled = true;
      clearTimeout(notice);
      abort.abort();
      if (mine !== undefined) {
        const o = mine;
        if (opened.current === o) opened.current = undefined;
        void closeOpened(o).catch(() => undefined);
      }
    };
  }, [generation]);

  const signedIn = useCallback(() => {
    const o = opened.current;
    if (o !== undefined) setPhase({ kind: 'signed-in', client: o.client, epoch: 0 });
  }, []);

  const signOut = useCallback(async () => {
    const o = opened.current;
    opened.current = undefined;
    setPhase({ kind: 'loading' });
    // No more wake-ups for this device: the browser's subscription and the server's copy go first.
    await forgetSubscription();
    await deleteSettings();
    if (o !== undefined) {
      await o.client.push.unsubscribe().catch(() => undefined);
      try {
        await o.client.logout({ wipe: true });
      } catch {
        /* wiped locally below in any case */
      }
      await closeOpened(o);
    }
    try {
      await IndexedDbStore.destroy(DATABASE);
    } catch {
      // Another tab held the database open: its records were already deleted by logout({ wipe: true }).
    }
    setGeneration((g) => g + 1);
  }, []);

  const signInAgain = useCallback(async (password: string) => {
    const o = opened.current;
    const username = o?.client.username;
    if (o === undefined || username === undefined) throw new Error('no signed-in device to sign in again');
    // The same client and store: the session the server ended is replaced by a new one for the same device.
    await o.client.login(username, password);
    setPhase((p) => ({ kind: 'signed-in', client: o.client, epoch: p.kind === 'signed-in' ? p.epoch + 1 : 0 }));
  }, []);

  return { phase, signedIn, signOut, signInAgain };
}

const SessionContext = createContext<Session | undefined>(undefined);
export const SessionProvider = SessionContext.Provider;

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === undefined) throw new Error('useSession outside SessionProvider');
  return s;
}

const ClientContext = createContext<ParleyClient | undefined>(undefined);
export const ClientProvider = ClientContext.Provider;

/** The signed-in client. */
export function useClient(): ParleyClient {
  const c = useContext(ClientContext);
  if (c === undefined) throw new Error('useClient outside ClientProvider');
  return c;
}

/** Subscribes to a client event for the lifetime of the component; the latest handler is always used. */
export function useClientEvent<E extends keyof ClientEvents>(client: ParleyClient, event: E, handler: ClientEvents[E]): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const listener = ((...args: Parameters<ClientEvents[E]>) => (ref.current as (...a: Parameters<ClientEvents[E]>) => void)(...args)) as ClientEvents[E];
    client.on(event, listener);
    return () => {
      client.off(event, listener);
    };
  }, [client, event]);
}
