import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Emits sw.js with the list of every file of this build to precache, and a
 * version derived from their names (hashed), so a new build replaces the old
 * shell cache.
 */
function serviceWorker(): Plugin {
  return {
    name: 'parley-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      const publicFiles = ['manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png'];
      const precache = ['/', '/index.html', ...[...files, ...publicFiles].filter((f) => f !== 'index.html').map((f) => `/${f}`)];
      const version = createHash('sha256').update(files.sort().join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(new URL('./sw/service-worker.js', import.meta.url), 'utf8');
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: template.replace('__VERSION__', version).replace('const PRECACHE = __PRECACHE__;', `const PRECACHE = ${JSON.stringify(precache)};`),
      });
    },
  };
}

/**
 * The web app is a static bundle that `parley serve` hands out from the same
 * origin as the API, so it needs no server URL and the CSP can stay 'self'.
 * In development, `npm run dev -w @parley/web` proxies the API to a local
 * `parley serve` on :8080.
 */
export default defineConfig({
  plugins: [react(), serviceWorker()],
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: {
      '/v1': { target: 'http://127.0.0.1:8080', ws: true },
      '/health': 'http://127.0.0.1:8080',
    },
  },
});
