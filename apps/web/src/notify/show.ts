import { countOf, type NotificationSpec } from './rules';

/** The part of a ServiceWorkerRegistration used to show notifications (the page's and the worker's). */
export interface NotificationHost {
  showNotification(title: string, options?: NotificationOptions): Promise<void>;
  getNotifications(filter?: GetNotificationOptions): Promise<Notification[]>;
}

const ICON = '/icons/icon-192.png';

/**
 * Shows (or updates) the one notification of `tag`. `added` is how many new
 * messages it stands for on top of one already showing with the same tag:
 * the count grows and `build(count)` says the latest message.
 */
export async function showNotification(host: NotificationHost, tag: string, added: number, build: (count: number) => NotificationSpec): Promise<void> {
  const shown = await host.getNotifications({ tag }).catch(() => [] as Notification[]);
  const count = Math.max(added, 1) + shown.reduce((n, s) => Math.max(n, countOf(s.data)), 0);
  const spec = build(count);
  // `renotify`: an update of the conversation's notification alerts again (not yet in TypeScript's DOM types).
  const options: NotificationOptions & { renotify: boolean } = { body: spec.body, tag: spec.tag, data: spec.data, icon: ICON, badge: ICON, renotify: true };
  await host.showNotification(spec.title, options);
}

/** Closes the notifications of a conversation (it was read here or on another device). */
export async function closeNotifications(host: NotificationHost, tag: string): Promise<void> {
  for (const n of await host.getNotifications({ tag }).catch(() => [] as Notification[])) n.close();
}
