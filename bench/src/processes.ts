import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Proc {
  pid: number;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, child: ChildProcess, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start in time`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * With `--metrics` (PARLEY_BENCH_METRICS=1) each server serves /metrics on an admin port of its
 * own, and the bench scrapes it every second while the server runs — fifteen times as often as a
 * usual Prometheus — so a run measures what the metrics cost on the message path and per scrape.
 */
const SCRAPE_EVERY_MS = 1000;

function scraper(url: string): () => void {
  let scrapes = 0;
  let totalMs = 0;
  let failures = 0;
  const timer = setInterval(() => {
    const started = performance.now();
    fetch(url)
      .then(async (res) => {
        await res.text();
        if (!res.ok) throw new Error(String(res.status));
        scrapes++;
        totalMs += performance.now() - started;
      })
      .catch(() => failures++);
  }, SCRAPE_EVERY_MS);
  return () => {
    clearInterval(timer);
    console.error(`metrics: ${scrapes} scrapes of ${url}, ${(totalMs / Math.max(1, scrapes)).toFixed(1)} ms each on average, ${failures} failed`);
  };
}

let built = false;

/**
 * What the bench runs: the compiled server, as `npm start` runs it (plain node
 * on the bundle, with the launcher's allocator setting), built first when its
 * sources changed. PARLEY_BENCH_SERVER=tsx runs the TypeScript sources instead.
 */
function serverCommand(): { args: string[]; env: Record<string, string> } {
  if (process.env['PARLEY_BENCH_SERVER'] === 'tsx') return { args: [`${ROOT}apps/parley/bin/parley.mjs`], env: {} };
  if (!built) {
    const build = spawnSync(process.execPath, [`${ROOT}scripts/build-server.mjs`], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error('building the server failed');
    built = true;
  }
  return {
    args: ['--enable-source-maps', `${ROOT}apps/parley/dist/parley.cjs`],
    env: { MALLOC_MMAP_THRESHOLD_: process.env['MALLOC_MMAP_THRESHOLD_'] ?? '131072' },
  };
}

/** Starts `parley serve` as its own process, so its CPU and memory can be measured alone. */
export async function startParley(env: Record<string, string>): Promise<Proc> {
  const server = serverCommand();
  const port = await freePort();
  const metricsPort = process.env['PARLEY_BENCH_METRICS'] === '1' ? await freePort() : undefined;
  // PARLEY_BENCH_PROFILE_DIR=DIR: the server writes a V8 CPU profile there when it exits.
  const profileDir = process.env['PARLEY_BENCH_PROFILE_DIR'];
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, ...server.args, 'serve'], {
    env: {
      ...process.env,
      ...server.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PARLEY_RATE_LIMITS: 'off',
      PARLEY_LOG_LEVEL: 'warn',
      ...(metricsPort === undefined ? {} : { PARLEY_METRICS_ADDR: `127.0.0.1:${metricsPort}` }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, child, 'parley');
  if (child.pid === undefined) throw new Error('no pid');
  const stop = stopper(child);
  if (metricsPort === undefined) return { pid: child.pid, port, child, stop };
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitFor(async () => (await fetch(metricsUrl)).ok, child, 'parley metrics');
  const stopScraping = scraper(metricsUrl);
  return {
    pid: child.pid,
    port,
    child,
    async stop() {
      stopScraping();
      await stop();
    },
  };
}

/** Starts the bare relay baseline (same WebSocket library, no storage, auth or checks). */
export async function startRelay(): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}bench/src/relay.ts`, String(port)], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, child, 'relay');
  if (child.pid === undefined) throw new Error('no pid');
  return { pid: child.pid, port, child, stop: stopper(child) };
}
