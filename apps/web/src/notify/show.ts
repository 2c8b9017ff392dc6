import { countOf, genericNotification, GENERIC_TAG, isReadBy, type NotificationSpec } from './rules.js';

/** The part of a ServiceWorkerRegistration used to show notifications (the page's and the worker's). */
export interface NotificationHost {
  showNotification(title: string, options?: NotificationOptions): Promise<void>;
  getNotifications(filter?: GetNotificationOptions): Promise<Notification[]>;
}

const ICON = '/icons/icon-192.png';

/** Shows (or replaces) the one notification of `spec.tag`; an update alerts again. */
export async function showNotification(host: NotificationHost, spec: NotificationSpec): Promise<void> {
  // `renotify` is not yet in TypeScript's DOM types.
  const options: NotificationOptions & { renotify: boolean } = { body: spec.body, tag: spec.tag, data: spec.data, icon: ICON, badge: ICON, renotify: true };
  await host.showNotification(spec.title, options);
}

/** The generic "New message", counting up while it stays (it stands for messages nobody could read here). */
export async function showGeneric(host: NotificationHost): Promise<void> {
  const shown = await host.getNotifications({ tag: GENERIC_TAG }).catch(() => [] as Notification[]);
  await showNotification(host, genericNotification(1 + shown.reduce((n, s) => Math.max(n, countOf(s.data)), 0)));
}

/** Closes the notification of a conversation read (here or on another device) up to the message it shows. */
export async function closeRead(host: NotificationHost, conversationId: string, readSeq: number): Promise<void> {
  for (const n of await host.getNotifications({ tag: conversationId }).catch(() => [] as Notification[])) if (isReadBy(n.data, conversationId, readSeq)) n.close();
}

/**
 * "Show message content" was just turned off: notifications already shown
 * with a sender or text go, so nothing shown afterwards says more than the
 * setting allows (the generic one stays).
 */
export async function closeWithContent(host: NotificationHost): Promise<void> {
  for (const n of await host.getNotifications().catch(() => [] as Notification[])) if (n.tag !== GENERIC_TAG) n.close();
}
