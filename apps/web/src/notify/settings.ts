/**
 * This device's notification settings, kept in their own small IndexedDB
 * database so that the service worker can read them without opening the
 * client's store. They are not secret (two switches), and they are per
 * device: another device of the same user decides for itself.
 */
const DATABASE = 'parley-notify';
const STORE = 'settings';
const KEY = 'prefs';

export interface NotifySettings {
  /** The user turned notifications on here (permission granted and the push subscription registered). */
  readonly enabled: boolean;
  /** "Show message content in notifications": sender and text; off: only "New message". */
  readonly showContent: boolean;
}

export const DEFAULT_SETTINGS: NotifySettings = { enabled: false, showContent: true };

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DATABASE, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('notification settings: open failed'));
    req.onblocked = () => reject(new Error('notification settings: blocked'));
  });
}

function parse(value: unknown): NotifySettings {
  if (typeof value !== 'object' || value === null) return DEFAULT_SETTINGS;
  const v = value as Record<string, unknown>;
  return {
    enabled: typeof v['enabled'] === 'boolean' ? v['enabled'] : DEFAULT_SETTINGS.enabled,
    showContent: typeof v['showContent'] === 'boolean' ? v['showContent'] : DEFAULT_SETTINGS.showContent,
  };
}

/**
 * The stored settings. Anything unreadable gives the defaults with
 * `showContent` off: when in doubt, a notification says less, never more.
 */
export async function readSettings(): Promise<NotifySettings> {
  return (await readStoredSettings()) ?? { ...DEFAULT_SETTINGS, showContent: false };
}

/** The stored settings (defaults for what was never set), or null when they cannot be read at all. */
export async function readStoredSettings(): Promise<NotifySettings | null> {
  let db: IDBDatabase | undefined;
  try {
    db = await openDb();
    const tx = db.transaction(STORE, 'readonly');
    const req = tx.objectStore(STORE).get(KEY);
    const value = await new Promise<unknown>((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('notification settings: read failed'));
    });
    return parse(value);
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

export async function writeSettings(change: Partial<NotifySettings>): Promise<NotifySettings> {
  const db = await openDb();
  try {
    const tx = db.transaction(STORE, 'readwrite');
    const store = tx.objectStore(STORE);
    const req = store.get(KEY);
    const next = await new Promise<NotifySettings>((resolve, reject) => {
      req.onsuccess = () => {
        const merged = { ...parse(req.result), ...change };
        store.put(merged, KEY);
        resolve(merged);
      };
      req.onerror = () => reject(req.error ?? new Error('notification settings: read failed'));
    });
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('notification settings: write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('notification settings: write aborted'));
    });
    return next;
  } finally {
    db.close();
  }
}

/** Signing out: the settings go with the device. */
export function deleteSettings(): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(DATABASE);
    req.onsuccess = () => resolve();
    req.onerror = () => resolve();
    req.onblocked = () => resolve();
  });
}
