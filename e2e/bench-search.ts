/**
 * Search on the device, measured in the browser (not a test):
 * `npm run bench:browser-search [-- --messages N] [--batch B] [--queries Q] [--profile DIR]`
 * (`--profile`: the page's V8 CPU profile of the whole run to DIR, read it with
 * bench/src/profile-summary.ts).
 *
 * The same run as `npm run bench:search` (bench/src/search-run.ts: N
 * messages, default 100,000, mixed English/Chinese/Arabic, stored without
 * and with the index; index size; the first page of several queries) in
 * the system Chromium (headless) over IndexedDbStore — the store the web
 * app uses. The page is bundled from e2e/bench-search/page.ts and served
 * from 127.0.0.1 (IndexedDB needs an origin); no Parley server is needed.
 * Storing is timed by the clock and by the CPU time of Chromium's
 * processes (renderer, browser — where IndexedDB runs —, utilities), read
 * from /proc: that does not grow when other work shares the machine.
 * Prints one JSON line. Stops the browser and the HTTP server it started.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { launchBrowser } from './helpers/browser.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const options = { messages: Number(arg('messages') ?? 100_000), batch: Number(arg('batch') ?? 100), queries: Number(arg('queries') ?? 30) };
const profileDir = arg('profile');
for (const n of Object.values(options)) if (!Number.isSafeInteger(n) || n < 1) throw new Error('--messages, --batch and --queries take positive integers');

const bundle = await build({
  entryPoints: [new URL('./bench-search/page.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'warning',
});
const script = bundle.outputFiles[0]?.text ?? '';
const html = '<!doctype html><meta charset="utf-8"><title>search bench</title><script type="module" src="/page.js"></script>';
const http = createServer((req, res) => {
  if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
  else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  else res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.exposeFunction('browserCpuSeconds', () => browserCpuSeconds());
  page.on('console', (m) => console.error(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => 'runSearchBench' in globalThis);
  const cdp = profileDir === undefined ? undefined : await page.context().newCDPSession(page);
  await cdp?.send('Profiler.enable');
  await cdp?.send('Profiler.start');
  const result: unknown = await page.evaluate(async (o) => {
    const run = (globalThis as unknown as { runSearchBench: (o: unknown) => Promise<unknown> }).runSearchBench;
    return run(o);
  }, options);
  if (cdp !== undefined && profileDir !== undefined) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(join(profileDir, 'browser-search.cpuprofile'), JSON.stringify(profile));
  }
  console.log(JSON.stringify({ bench: 'search', store: 'indexeddb', browser: browser.version(), ...(result as object) }));
} finally {
  await browser.close();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}

/** CPU time (user + system) of every process this script started (Chromium's), from /proc. */
function browserCpuSeconds(): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
      cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      /* gone meanwhile */
    }
  }
  let total = 0;
  for (const [pid, seconds] of cpu) {
    for (let p = parents.get(pid), hops = 0; p !== undefined && p > 1 && hops < 10; p = parents.get(p), hops++) {
      if (p === process.pid) {
        total += seconds;
        break;
      }
    }
  }
  return total;
}
