#!/usr/bin/env node
// Finds the test files for a suite and runs them with Node's test runner.
//   unit      every *.test.ts except *.services.test.ts (no external services; needs the
//             system Chromium for the browser tests and builds the web app first)
//   services  every *.services.test.ts (needs PostgreSQL; fails, never skips, when it is unreachable)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import net from 'node:net';

const suite = process.argv[2] ?? 'unit';
const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'bench', 'e2e'].map((d) => join(root, d));

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const all = roots.flatMap((d) => walk(d, [])).sort();
const files = all.filter((f) => (suite === 'services' ? f.endsWith('.services.test.ts') : !f.endsWith('.services.test.ts')));
if (files.length === 0) {
  console.error(`no test files found for suite "${suite}"`);
  process.exit(1);
}

async function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
    socket.setTimeout(3000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

if (suite === 'services') {
  const pg = process.env.PARLEY_TEST_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const nats = process.env.PARLEY_TEST_NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  let missing = false;
  if (!(await reachable(pg, 5432))) {
    missing = true;
    console.error(`PostgreSQL is not reachable at ${new URL(pg).host}.
The service tests need a real PostgreSQL. On Debian:
  apt-get install -y postgresql && pg_ctlcluster $(ls /etc/postgresql) main start
  su postgres -c "createdb test"   # trust or password auth for the postgres user
then run again, or point PARLEY_TEST_PG_URL at another server.`);
  }
  if (!(await reachable(nats, 4222))) {
    missing = true;
    console.error(`NATS is not reachable at ${new URL(nats).host}.
The service tests need a real NATS server. On Debian:
  apt-get install -y nats-server && nats-server -a 127.0.0.1 -p 4222 -js &
then run again, or point PARLEY_TEST_NATS_URL at another server.`);
  }
  if (missing) process.exit(1);
}

if (suite === 'unit') {
  // The browser tests (the web app end to end, the IndexedDB store) drive the system
  // Chromium; they fail rather than skip without it, so say how to get it up front.
  const chromium = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    console.error(`Chromium is missing (${chromium}): the browser tests need it. On Debian:
  apt-get update && apt-get install -y chromium
then run again. (No browser is ever downloaded by the tests.)`);
    process.exit(1);
  }
  // The end-to-end tests serve the built web app; build it (only if its sources changed).
  const build = spawnSync(process.execPath, [join(root, 'scripts/build-web.mjs')], { stdio: 'inherit', cwd: root });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

console.log(`running ${files.length} test files (${suite}): ${files.map((f) => relative(root, f)).join(', ')}`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);
