import type { Conversation, Message, ParleyClient } from '@parley/client';
import { decide } from './decide';
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

/** Without a service worker (development): `new Notification`, one per tag, a click focuses the tab and opens the conversation. */
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
      const id = (options?.data as { conversationId?: unknown } | undefined)?.conversationId;
      if (typeof id === 'string') window.location.hash = `#/c/${id}`;
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
 * notification. Returns the function that detaches it.
 */
export function attachNotifier(client: ParleyClient): () => void {
  const since = Date.now();
  let queued: Message[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let detached = false;

  const flush = async () => {
    timer = undefined;
    const batch = queued;
    queued = [];
    if (detached || inFront() || !permitted()) return;
    const settings = await readSettings();
    if (!settings.enabled || detached) return;
    const pending = await decide(client, batch, settings.showContent, since);
    const h = await host();
    for (const p of pending) await showNotification(h, p.spec);
  };
  const onMessage = (m: Message) => {
    if (m.outgoing) return;
    queued.push(m);
    timer ??= setTimeout(() => void flush().catch(() => undefined), SETTLE_MS);
  };
  const onConversation = (c: Conversation) => {
    if (permitted()) void host().then((h) => closeRead(h, c.id, c.readSeq)).catch(() => undefined);
  };
  client.on('message', onMessage);
  client.on('conversation', onConversation);
  return () => {
    detached = true;
    if (timer !== undefined) clearTimeout(timer);
    client.off('message', onMessage);
    client.off('conversation', onConversation);
  };
}
