import type { OpenRouteMessage } from './sw/types.js';

/** Routes a click on a notification may open: a conversation, Moments, or the app's start. */
const ROUTE = /^#\/(c\/[A-Za-z0-9_-]{1,200}|moments)?$/;

export function isOpenRoute(data: unknown): data is OpenRouteMessage {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  return m['type'] === 'parley-open' && typeof m['route'] === 'string' && ROUTE.test(m['route']);
}

/** A notification clicked while this tab is open: the service worker asks it to show the conversation. */
export function listenForOpenRoutes(): void {
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (!isOpenRoute(event.data)) return;
    if (window.location.hash !== event.data.route) window.location.hash = event.data.route;
  });
  navigator.serviceWorker.startMessages();
}
