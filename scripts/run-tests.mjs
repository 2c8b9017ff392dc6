#!/usr/bin/env node
// Finds the test files for a suite and runs them with Node's test runner.
//   unit      every *.test.ts except *.services.test.ts (no external services)
//   services  every *.services.test.ts (needs PostgreSQL; fails, never skips, when it is unreachable)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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

console.log(`running ${files.length} test files (${suite}): ${files.map((f) => relative(root, f)).join(', ')}`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);
