import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build, defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const PUBLIC_FILES = ['manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png'];

/**
 * Builds sw.js, the service worker, from TypeScript as a bundle of its own: a
 * classic script (every browser with service workers runs it) holding the
 * client SDK, so a push can wake the device and decide on it what to show.
 * It gets the list of every file of this build to precache, and a version
 * derived from their names (hashed), so a new build replaces the old shell cache.
 */
function serviceWorker(): Plugin {
  let precache: string[] = [];
  let version = '';
  let outDir = '';
  return {
    name: 'parley-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir.startsWith('/') ? config.build.outDir : fileURLToPath(new URL(config.build.outDir, new URL('./', import.meta.url)));
    },
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      precache = ['/', '/index.html', ...[...files, ...PUBLIC_FILES].filter((f) => f !== 'index.html').map((f) => `/${f}`)];
      version = createHash('sha256').update(files.sort().join('\n')).digest('hex').slice(0, 12);
    },
    async closeBundle() {
      await build({
        configFile: false,
        logLevel: 'warn',
        publicDir: false,
        define: { __VERSION__: JSON.stringify(version), __PRECACHE__: JSON.stringify(precache) },
        build: {
          target: 'es2022',
          outDir,
          emptyOutDir: false,
          copyPublicDir: false,
          sourcemap: false,
          minify: true,
          lib: { entry: fileURLToPath(new URL('./sw/service-worker.ts', import.meta.url)), formats: ['iife'], name: 'parleyServiceWorker', fileName: () => 'sw.js' },
        },
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
