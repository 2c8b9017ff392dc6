import { notificationRoute } from '../moments';
import type { OpenRouteMessage, ServiceWorkerScope } from './types';

/**
 * A notification was clicked: an open Parley window is told to show the
 * conversation (or Moments) and brought to front; with none, one is opened on it.
 */
export async function onNotificationClick(scope: ServiceWorkerScope, notification: Notification): Promise<void> {
  const route = notificationRoute(notification.data);
  notification.close();
  const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const target = windows.find((w) => w.focused) ?? windows.find((w) => w.visibilityState === 'visible') ?? windows[0];
  if (target !== undefined) {
    const message: OpenRouteMessage = { type: 'parley-open', route };
    target.postMessage(message);
    // Browsers allow focusing only from a user's click; a refusal still leaves the route shown.
    await target.focus().catch(() => undefined);
    return;
  }
  await scope.clients.openWindow(`/${route}`);
}
