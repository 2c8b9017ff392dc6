import { onNotificationClick } from './click';
import { onPush } from './push';
import { installShellCache } from './shell';
import type { ServiceWorkerScope } from './types';

/**
 * Parley's service worker: the app shell cache, and notifications decided on
 * the device when a content-free push wakes it (push.ts).
 */
export function startServiceWorker(scope: ServiceWorkerScope, build: { version: string; precache: readonly string[] }): void {
  installShellCache(scope, build.version, build.precache);
  // One push at a time: a second waits for the first run to let the device go, then looks again.
  let chain: Promise<void> = Promise.resolve();
  scope.addEventListener('push', (event) => {
    const run = chain.then(() => onPush(scope));
    chain = run.catch(() => undefined);
    event.waitUntil(run);
  });
  scope.addEventListener('notificationclick', (event) => {
    event.waitUntil(onNotificationClick(scope, event.notification));
  });
}
