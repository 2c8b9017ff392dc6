import type { ParleyClient } from '@parley/client';
import { readSettings, writeSettings, type NotifySettings } from './settings';

export type NotifyErrorCode = 'unsupported' | 'denied' | 'no_worker' | 'subscribe_failed';

/** Why notifications could not be turned on, in words for the user. Server errors stay ClientErrors. */
export class NotifyError extends Error {
  constructor(
    readonly code: NotifyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NotifyError';
  }
}

const WORKER_TIMEOUT_MS = 10_000;

export interface NotifyState extends NotifySettings {
  /** The browser has notifications, a service worker and the Push API. */
  readonly supported: boolean;
  readonly permission: NotificationPermission | 'unsupported';
}

function supported(): boolean {
  return typeof Notification !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined';
}

export async function notifyState(): Promise<NotifyState> {
  const settings = await readSettings();
  const ok = supported();
  const permission = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  // Permission withdrawn in the browser's settings: off, whatever was stored.
  return { ...settings, enabled: settings.enabled && ok && permission === 'granted', supported: ok, permission };
}

function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sameKey(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (a === null || a === undefined || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

async function workerRegistration(): Promise<ServiceWorkerRegistration> {
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), WORKER_TIMEOUT_MS));
  const reg = await Promise.race([navigator.serviceWorker.ready, timeout]);
  if (reg === undefined) throw new NotifyError('no_worker', 'Parley’s service worker is not running here, so it cannot be woken for new messages. Reload the page and try again.');
  return reg;
}

/**
 * Turns notifications on for this device: the browser's permission, a push
 * subscription for this server's VAPID key, registered with the server. The
 * push service only ever carries a content-free wake-up; what a notification
 * says is decided here, after decrypting.
 */
export async function enableNotifications(client: ParleyClient): Promise<void> {
  if (!supported()) throw new NotifyError('unsupported', 'This browser cannot show notifications for Parley (it lacks the Push API or service workers).');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new NotifyError('denied', permission === 'denied' ? 'Notifications are blocked for this site. Allow them in the browser’s site settings, then try again.' : 'Notifications were not allowed.');
  }
  const reg = await workerRegistration();
  const key = fromBase64Url(await client.push.vapidKey());
  let sub = await reg.pushManager.getSubscription();
  if (sub !== null && !sameKey(sub.options.applicationServerKey, key)) {
    // Made for another server key (a restored server, another server at this origin): replaced.
    await sub.unsubscribe().catch(() => false);
    sub = null;
  }
  if (sub === null) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (err) {
      const why = err instanceof Error && err.message !== '' ? ` (${err.message})` : '';
      throw new NotifyError('subscribe_failed', `The browser could not set up push messages${why}. Some browsers need their push service reachable, or do not offer one.`);
    }
  }
  const json = sub.toJSON();
  const p256dh = json.keys?.['p256dh'];
  const auth = json.keys?.['auth'];
  if (json.endpoint === undefined || p256dh === undefined || auth === undefined) {
    await sub.unsubscribe().catch(() => false);
    throw new NotifyError('subscribe_failed', 'The browser gave an incomplete push subscription.');
  }
  await client.push.subscribe({ endpoint: json.endpoint, keys: { p256dh, auth } });
  await writeSettings({ enabled: true });
}

/**
 * Turns notifications off: stored as off first (so nothing more is shown even
 * if the rest fails), then the browser's subscription and the server's copy
 * are deleted.
 */
export async function disableNotifications(client: ParleyClient): Promise<void> {
  await writeSettings({ enabled: false });
  if ('serviceWorker' in navigator) {
    const reg = await navigator.serviceWorker.getRegistration().catch(() => undefined);
    const sub = await reg?.pushManager.getSubscription().catch(() => null);
    await sub?.unsubscribe().catch(() => false);
  }
  await client.push.unsubscribe();
}

/** Signing out: the browser's subscription goes (the server drops its copy with the session's device). Never throws. */
export async function forgetSubscription(): Promise<void> {
  try {
    if (!('serviceWorker' in navigator)) return;
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = await reg?.pushManager.getSubscription();
    await sub?.unsubscribe();
  } catch {
    /* nothing more to do here */
  }
}
