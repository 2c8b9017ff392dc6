#!/usr/bin/env node
// Builds the web app (apps/web → apps/web/dist) unless the build is newer than
// every source it is made from: the app itself and the client, crypto and
// protocol packages it bundles. `npm start` runs this first.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'apps/web/dist/index.html');
const sources = ['apps/web/src', 'apps/web/public', 'apps/web/sw', 'apps/web/index.html', 'apps/web/vite.config.ts', 'packages/client/src', 'packages/crypto/src', 'packages/protocol/src'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)));
  return t;
}

const force = process.argv.includes('--force');
const built = existsSync(dist) ? statSync(dist).mtimeMs : 0;
const changed = Math.max(...sources.map((s) => newest(join(root, s))));
if (!force && built > changed) {
  console.log('web app: build is up to date');
  process.exit(0);
}
console.log('web app: building…');
const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: join(root, 'apps/web'), stdio: 'inherit' });
process.exit(r.status ?? 1);
