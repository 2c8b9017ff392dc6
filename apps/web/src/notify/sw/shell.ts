import type { ServiceWorkerScope } from './types';

/**
 * The app shell cache: every file of this build, so Parley opens offline and
 * installs as an app. It never touches the API (/v1/*, /health): messages
 * come only over the live, authenticated connection and are never cached.
 */
export function installShellCache(scope: ServiceWorkerScope, version: string, precache: readonly string[]): void {
  const cacheName = `parley-shell-${version}`;
  scope.addEventListener('install', (event) => {
    event.waitUntil(
      caches
        .open(cacheName)
        .then((cache) => cache.addAll([...precache]))
        .then(() => scope.skipWaiting()),
    );
  });
  scope.addEventListener('activate', (event) => {
    event.waitUntil(
      caches
        .keys()
        .then((keys) => Promise.all(keys.filter((k) => k.startsWith('parley-shell-') && k !== cacheName).map((k) => caches.delete(k))))
        .then(() => scope.clients.claim()),
    );
  });
  scope.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.method !== 'GET') return;
    const url = new URL(request.url);
    if (url.origin !== scope.location.origin || isApi(url)) return;
    if (request.mode === 'navigate') {
      // Network first so a new version shows up at once; the cached shell when offline.
      event.respondWith(
        fetch(request).catch(() =>
          caches
            .open(cacheName)
            .then((cache) => cache.match('/index.html'))
            .then((r) => r ?? Response.error()),
        ),
      );
      return;
    }
    event.respondWith(
      caches
        .open(cacheName)
        .then((cache) => cache.match(request))
        .then((hit) => hit ?? fetch(request)),
    );
  });
}

function isApi(url: URL): boolean {
  return url.pathname.startsWith('/v1/') || url.pathname === '/v1' || url.pathname === '/health';
}
