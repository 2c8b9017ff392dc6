/* The service worker's entry, bundled on its own as /sw.js (vite.config.ts).
 * The build fills in __VERSION__ and __PRECACHE__ (every file of this build). */
import { startServiceWorker } from '../src/notify/sw/main';
import type { ServiceWorkerScope } from '../src/notify/sw/types';

declare const __VERSION__: string;
declare const __PRECACHE__: readonly string[];

startServiceWorker(self as unknown as ServiceWorkerScope, { version: __VERSION__, precache: __PRECACHE__ });
