import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { createClient, IndexedDbStore, ParleyClient, type ClientEvents } from '@parley/client';
import { deviceName } from '../lib/prefs';

/**
 * One browser profile holds one Parley device: its keys, MLS state and
 * decrypted history live in one IndexedDB database, opened here and handed
 * to the client SDK. Nothing else in the app touches storage or the network.
 */
const DATABASE = 'parley';

export type Phase =
  | { readonly kind: 'loading' }
  | { readonly kind: 'signed-out'; readonly client: ParleyClient }
  | { readonly kind: 'signed-in'; readonly client: ParleyClient }
  | { readonly kind: 'failed'; readonly message: string };

interface Opened {
  client: ParleyClient;
  store: IndexedDbStore;
}

function clientOptions(store: IndexedDbStore) {
  return { serverUrl: window.location.origin, store, deviceName: deviceName() };
}

async function open(): Promise<Opened> {
  const store = await IndexedDbStore.open(DATABASE);
  const client = await createClient(clientOptions(store));
  return { client, store };
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
    setPhase({ kind: 'loading' });
    open().then(
      async (o) => {
        if (cancelled) {
          await o.client.close();
          await o.store.close();
          return;
        }
        mine = o;
        opened.current = o;
        setPhase(o.client.userId === undefined ? { kind: 'signed-out', client: o.client } : { kind: 'signed-in', client: o.client });
      },
      (err: unknown) => {
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
      if (mine !== undefined) {
        const o = mine;
        // The client may have been replaced on the same store (signInAgain): close that one too.
        const current = opened.current;
        const clients = current !== undefined && current.store === o.store && current.client !== o.client ? [o.client, current.client] : [o.client];
        if (current?.store === o.store) opened.current = undefined;
        void Promise.all(clients.map((c) => c.close()))
          .then(() => o.store.close())
          .catch(() => undefined);
      }
    };
  }, [generation]);

  const signedIn = useCallback(() => {
    const o = opened.current;
    if (o !== undefined) setPhase({ kind: 'signed-in', client: o.client });
  }, []);

  const signOut = useCallback(async () => {
    const o = opened.current;
    opened.current = undefined;
    setPhase({ kind: 'loading' });
    if (o !== undefined) {
      try {
        await o.client.logout({ wipe: true });
      } catch {
        /* wiped locally below in any case */
      }
      await o.client.close();
      await o.store.close();
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
    // A second client on the same store signs in; the old one, whose session is over, is closed only once it did.
    const fresh = new ParleyClient(clientOptions(o.store));
    try {
      await fresh.login(username, password);
    } catch (err) {
      await fresh.close().catch(() => undefined);
      throw err;
    }
    opened.current = { client: fresh, store: o.store };
    await o.client.close().catch(() => undefined);
    setPhase({ kind: 'signed-in', client: fresh });
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
