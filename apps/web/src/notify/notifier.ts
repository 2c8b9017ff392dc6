import type { Conversation, Message, MomentEvent, ParleyClient } from '@parley/client';
import { decide } from './decide';
import { closeSeenMoments, decideMoments, notificationRoute } from './moments';
import { readSettings } from './settings';
import { closeRead, showNotification, type NotificationHost } from './show';

/** Messages arriving together (a burst, a catch-up) make one update per conversation. */
const SETTLE_MS = 300;

function inFront(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

function permitted(): boolean {
  return typeof Notification !== 'undefined' && Notification.permission === 'granted';
}

/** The service worker's registration (its notifications are clicked through the worker); else plain page notifications. */
async function host(): Promise<NotificationHost> {
  const reg = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration().catch(() => undefined) : undefined;
  return reg ?? pageHost;
}

/** Without a service worker (development): `new Notification`, one per tag, a click focuses the tab and opens the conversation (or Moments). */
const shownHere = new Map<string, Notification>();
const pageHost: NotificationHost = {
  showNotification(title, options) {
    const n = new Notification(title, options);
    const tag = options?.tag ?? '';
    shownHere.get(tag)?.close();
    shownHere.set(tag, n);
    n.onclose = () => shownHere.get(tag) === n && shownHere.delete(tag);
    n.onclick = () => {
      window.focus();
      const route = notificationRoute(options?.data);
      if (route !== '#/') window.location.hash = route;
      n.close();
    };
    return Promise.resolve();
  },
  getNotifications(filter) {
    return Promise.resolve([...shownHere.entries()].filter(([t]) => filter?.tag === undefined || t === filter.tag).map(([, n]) => n));
  },
};

/**
 * While the app is open, this page runs the device: the service worker stays
 * out of it, and this notifier shows what it would have shown — only when the
 * tab is hidden or not focused (in front, the conversation list says it), by
 * the same rules. A conversation read (here or on another device) loses its
 * notification, and so does Moments once its notices are seen. Returns the
 * function that detaches it.
 */
export function attachNotifier(client: ParleyClient): () => void {
  const since = Date.now();
  let queued: Message[] = [];
  /** A like, comment or reply was stored since the last flush. */
  let momentsQueued = false;
  /** When the latest notice shown here was stored: a 'notices' event with nothing newer alerts nobody again. */
  let momentsShownAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let detached = false;

  const flush = async () => {
    timer = undefined;
    const batch = queued;
    const moments = momentsQueued;
    queued = [];
    momentsQueued = false;
    if (detached || inFront() || !permitted()) return;
    const settings = await readSettings();
    if (!settings.enabled || detached) return;
    const pending = await decide(client, batch, settings.showContent, since);
    const h = await host();
    for (const p of pending) await showNotification(h, p.spec);
    const notice = moments ? await decideMoments(client, settings.showContent, since) : null;
    if (notice !== null && notice.data.at > momentsShownAt && !detached) {
      momentsShownAt = notice.data.at;
      await showNotification(h, notice);
    }
  };
  const schedule = () => {
    timer ??= setTimeout(() => void flush().catch(() => undefined), SETTLE_MS);
  };
  const onMessage = (m: Message) => {
    if (m.outgoing) return;
    queued.push(m);
    schedule();
  };
  const onConversation = (c: Conversation) => {
    if (permitted()) void host().then((h) => closeRead(h, c.id, c.readSeq)).catch(() => undefined);
  };
  const onMoments = (e: MomentEvent) => {
    if (e.kind !== 'notices') return;
    // A notice stored, or notices seen (here: the Moments notices view; the count it showed may be gone).
    momentsQueued = true;
    schedule();
    if (permitted()) void host().then((h) => closeSeenMoments(h, client)).catch(() => undefined);
  };
  client.on('message', onMessage);
  client.on('conversation', onConversation);
  client.on('moments', onMoments);
  return () => {
    detached = true;
    if (timer !== undefined) clearTimeout(timer);
    client.off('message', onMessage);
    client.off('conversation', onConversation);
    client.off('moments', onMoments);
  };
}
