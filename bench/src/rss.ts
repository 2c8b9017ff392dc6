import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './processes.js';
import { round } from './stats.js';

/**
 * `npm run bench:rss [-- --server launcher|compiled|tsx] [--registrations 200] [--starts 5]`
 *
 * Memory and start-up of a fresh `parley serve` (SQLite, no clients), as an
 * operator would run it:
 *   launcher  `sh scripts/serve.sh` — what `npm start` runs: up-to-date checks of
 *             both builds, then the compiled server with the launcher's allocator
 *             setting (the default)
 *   compiled  `node --enable-source-maps apps/parley/dist/parley.cjs serve`, without
 *             the launcher's environment (shows what the allocator setting does)
 *   tsx       `node --import tsx apps/parley/src/main.ts serve` (how `npm start`
 *             ran before the compiled server)
 * It prints, as one JSON line and a table:
 *   - start-up: spawn → first successful GET /health, median and range of --starts runs
 *   - fresh RSS: VmRSS (and its anonymous and file-backed parts) 3 s after the server answered
 *   - RSS after N registrations over the HTTP API (POST /v1/accounts, 8 in flight,
 *     rate limits off): right after, peak (VmHWM) and after 10 s idle
 * Everything is on 127.0.0.1, bounded in time, and the server is stopped by its PID.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const server = arg('server') ?? 'launcher';
const registrations = Number(arg('registrations') ?? 200);
const starts = Number(arg('starts') ?? 5);
const IN_FLIGHT = 8;

function command(): string[] {
  switch (server) {
    case 'launcher':
      return ['sh', join(ROOT, 'scripts/serve.sh')];
    case 'compiled':
      return [process.execPath, '--enable-source-maps', join(ROOT, 'apps/parley/dist/parley.cjs'), 'serve'];
    case 'tsx':
      return [process.execPath, '--import', 'tsx', join(ROOT, 'apps/parley/src/main.ts'), 'serve'];
    default:
      throw new Error(`--server must be launcher, compiled or tsx, not ${server}`);
  }
}

/** VmRSS, RssAnon, RssFile and VmHWM in MB. */
function memory(pid: number): { rss: number; anon: number; file: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(`${field}:`)) ?? '')?.[0] ?? NaN);
  const mb = (field: string) => round(kb(field) / 1024, 1);
  return { rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile'), peak: mb('VmHWM') };
}

interface Running {
  child: ChildProcess;
  pid: number;
  url: string;
  startupMs: number;
  stop(): Promise<void>;
}

async function start(dataDir: string): Promise<Running> {
  const port = await freePort();
  const [cmd, ...args] = command();
  if (cmd === undefined) throw new Error('no command');
  const began = performance.now();
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PARLEY_DATA_DIR: dataDir, PARLEY_RATE_LIMITS: 'off', PARLEY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the server did not answer /health within 60 s');
    }
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const startupMs = performance.now() - began;
  if (child.pid === undefined) throw new Error('no pid');
  const pid = child.pid;
  return {
    child,
    pid,
    url,
    startupMs,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function letters(n: number): string {
  return [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

/** Registers `count` accounts over HTTP, IN_FLIGHT at a time; returns the number that failed. */
async function register(url: string, count: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const body = { username: `rss-${letters(12)}`, password: `pw-${randomBytes(12).toString('hex')}`, device: { signatureKey: randomBytes(32).toString('base64url') } };
      const r = await fetch(`${url}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
      if (r === undefined || r.status !== 201) failed++;
      await r?.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return failed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (server !== 'tsx') {
  // Build now, so that the launcher's own up-to-date checks are all that is timed.
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-server.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('building the server failed');
  if (server === 'launcher') spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs')], { stdio: 'inherit' });
}

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'parley-rss-'));
  dirs.push(d);
  return d;
};
try {
  const startupMs: number[] = [];
  for (let i = 0; i < starts; i++) {
    const s = await start(fresh());
    startupMs.push(s.startupMs);
    await s.stop();
  }
  startupMs.sort((a, b) => a - b);

  const s = await start(fresh());
  let result: Record<string, unknown>;
  try {
    await sleep(3000);
    const first = memory(s.pid);
    const t0 = performance.now();
    const failed = await register(s.url, registrations);
    const seconds = (performance.now() - t0) / 1000;
    const after = memory(s.pid);
    await sleep(10_000);
    const settled = memory(s.pid);
    result = {
      server,
      node: process.version,
      startupMs: { median: Math.round(startupMs[Math.floor(startupMs.length / 2)] ?? NaN), min: Math.round(startupMs[0] ?? NaN), max: Math.round(startupMs[startupMs.length - 1] ?? NaN), runs: startupMs.length },
      fresh: { rssMB: first.rss, anonMB: first.anon, fileMB: first.file },
      registrations: { count: registrations, failed, perS: round(registrations / seconds, 1) },
      afterRegistrations: { rssMB: after.rss, peakMB: after.peak },
      settled10s: { rssMB: settled.rss, anonMB: settled.anon, fileMB: settled.file, aboveFreshMB: round(settled.rss - first.rss, 1) },
    };
  } finally {
    await s.stop();
  }
  console.log(JSON.stringify(result));
  const r = result as {
    startupMs: { median: number; min: number; max: number };
    fresh: { rssMB: number; anonMB: number; fileMB: number };
    registrations: { count: number; failed: number; perS: number };
    afterRegistrations: { rssMB: number; peakMB: number };
    settled10s: { rssMB: number; aboveFreshMB: number };
  };
  console.log('\n| server | node | start-up ms (median, min–max) | fresh RSS MB (anon + file) | registrations (/s, failed) | RSS right after MB | peak MB | RSS 10 s later MB | above fresh MB |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| ${server} | ${process.version} | ${r.startupMs.median} (${r.startupMs.min}–${r.startupMs.max}) | ${r.fresh.rssMB} (${r.fresh.anonMB} + ${r.fresh.fileMB}) | ${r.registrations.count} (${r.registrations.perS}/s, ${r.registrations.failed}) | ${r.afterRegistrations.rssMB} | ${r.afterRegistrations.peakMB} | ${r.settled10s.rssMB} | ${r.settled10s.aboveFreshMB} |`,
  );
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
