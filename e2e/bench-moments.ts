/**
 * Moments, measured (not a test): `npm run bench:browser-moments [-- --friends N]
 * [--devices D] [--photos P] [--posts R] [--timeline T] [--scroll-seconds S]`.
 *
 * A (the built web app's origin in the system Chromium, headless; IndexedDB)
 * has N friends (default 200, mutual contacts), each with D devices (default
 * 2: about 400 devices), run as Node SDK clients (MemoryStore) in this
 * process. Then:
 *
 * 1. **Timeline.** The friends post T posts (default 1,000; a third with a
 *    photo) to A; once A's device has them all, the web app opens on the same
 *    database, the Moments tab is opened and the timeline is scrolled to its
 *    end (or S seconds, default 90) 60 px per frame (`--scroll-step`): frame times
 *    (requestAnimationFrame deltas), long tasks, and the posts in the DOM
 *    (it is virtualised).
 * 2. **Posting.** A posts R times (default 2: text only, then with P photos,
 *    default 9, JPEGs of noise made in the page, about 1 MB each, with a
 *    thumbnail) from the browser: client.moments.post in a page of the app's
 *    origin (bench-moments/page.ts, on the app's own database). Measured: how
 *    long post() takes (uploads; it returns once the references are queued),
 *    until the server stores every reference (sent in the background), until
 *    every friend device has the post (body fetched and read), what the page
 *    sent until then, and what the server stores
 *    for the post (message rows and Welcomes added, read from its SQLite
 *    database; the new blobs). The friends' devices acknowledge late
 *    (ackDelayMs) so that no row is deleted before it is counted. Every
 *    device then downloads and keeps the photos: how many got them all
 *    within 90 seconds (400 devices share this one process and its cores,
 *    so this is the simulation's limit, not a device's).
 *
 * Prints one JSON line per measurement. Everything runs on 127.0.0.1 and is
 * stopped at the end (the server by PID, the browser, every client).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ParleyClient } from '@parley/client';
import { launchBrowser, PASSWORD } from './helpers/browser.js';
import { bounded, closeFriends, createFriends, type Friend } from './bench-moments/friends.js';
import type { momentsBench as BenchApi } from './bench-moments/page.js';
import type { scrollFeed } from './bench-moments/scroll.js';
import { measurePost } from './bench-moments/post-run.js';
import { StorageProbe } from './bench-moments/storage.js';
import { buildBenchWeb } from './bench-moments/web.js';

// 400 devices in one process (their MLS state, their stores, photo downloads in flight) need a
// larger heap than Node's default.
if (!process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=6144', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number`);
  return v;
}
const o = {
  friends: arg('friends', 200),
  devices: arg('devices', 2),
  photos: arg('photos', 9),
  posts: arg('posts', 2),
  timeline: arg('timeline', 1000),
  scrollSeconds: arg('scroll-seconds', 90),
  scrollStep: arg('scroll-step', 60),
  parallel: arg('parallel', 8),
  photoWidth: arg('photo-width', 1280),
  photoHeight: arg('photo-height', 960),
  photoQuality: arg('photo-quality', 0.9),
};
const DEADLINE_MS = 10 * 60_000;
const started = performance.now();
const log = (line: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

declare const momentsBench: typeof BenchApi;

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Math.min(Date.now() + timeoutMs, started + DEADLINE_MS + performance.timeOrigin);
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const web = await buildBenchWeb();
// The server helper reads where the web app is when it is loaded.
process.env['PARLEY_E2E_WEB_DIR'] = web.dir;
const { TestServer } = await import('./helpers/server.js');
const server = await TestServer.start({ env: { PARLEY_RATE_LIMITS: 'off' } });
const browser = await launchBrowser();
let friends: Friend[] = [];
const watchdog = setTimeout(() => {
  console.error('the benchmark ran past its 10 minutes: stopping');
  process.exitCode = 1;
  void cleanup().finally(() => process.exit(1));
}, DEADLINE_MS + 60_000);

async function cleanup(): Promise<void> {
  await closeFriends(friends);
  await browser.close().catch(() => undefined);
  await server.dispose();
  web.dispose();
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${server.url}/bench-moments.html`);
  await page.waitForFunction(() => 'momentsBench' in globalThis);
  const alice = `a${randomBytes(4).toString('hex')}`;
  await page.evaluate(() => momentsBench.open());
  await page.evaluate(([u, p]) => momentsBench.register(u, p), [alice, PASSWORD] as const);
  log(`A (${alice}) registered in the browser`);

  const ackDelayMs = 60_000;
  friends = await createFriends({ serverUrl: server.url, count: o.friends, devicesEach: o.devices, parallel: o.parallel, ackDelayMs, progress: (n) => n % 50 === 0 && log(`${n} friends`) });
  const devices: ParleyClient[] = friends.flatMap((f) => [...f.devices]);
  log(`${friends.length} friends with ${devices.length} devices`);

  // Mutual contacts: each friend adds A, A adds each friend; friendship follows (moment_hello both ways).
  const tFriends = performance.now();
  await bounded(friends.length, o.parallel, async (i) => void (await friends[i]?.devices[0]?.contacts.add(alice)));
  await page.evaluate(([names, p]) => momentsBench.addContacts(names, p), [friends.map((f) => f.name), 4] as const);
  await until(async () => (await page.evaluate(() => momentsBench.friends())) >= friends.length, 'A has every friend', 5 * 60_000, 1000);
  await until(async () => {
    const counts = await Promise.all(devices.map(async (d) => (await d.moments.friends()).length));
    return counts.every((n) => n >= 1);
  }, 'every friend device has A as a friend', 3 * 60_000, 1000);
  const friendsSeconds = (performance.now() - tFriends) / 1000;
  log(`friendship in ${round(friendsSeconds)} s`);
  console.log(JSON.stringify({ bench: 'moments-setup', friends: friends.length, devices: devices.length, friendshipSeconds: round(friendsSeconds, 2) }));

  // The timeline first (B): T posts from the friends (each friend's friends are A alone), a third with a photo.
  const jpeg = new Uint8Array(await page.evaluate(() => momentsBench.smallJpeg(480, 360)));
  const tSeed = performance.now();
  await bounded(o.timeline, o.parallel, async (i) => {
    const f = friends[i % friends.length];
    if (f === undefined) return;
    const photos = i % 3 === 0 ? [{ bytes: jpeg, mimeType: 'image/jpeg' as const, width: 480, height: 360, thumbnail: { mimeType: 'image/jpeg' as const, data: jpeg } }] : [];
    await f.devices[0]?.moments.post({ text: `Moment ${i + 1} of ${o.timeline}: ${'a line of text about the day '.repeat(1 + (i % 4))}`, photos });
  });
  const postedSeconds = (performance.now() - tSeed) / 1000;
  log(`${o.timeline} posts by the friends in ${round(postedSeconds)} s`);
  const counts = await until(async () => {
    const c = await page.evaluate(() => momentsBench.timelineCount());
    return c.ready >= o.timeline ? c : undefined;
  }, `A's device has the ${o.timeline} posts`, 5 * 60_000, 2000);
  const receivedSeconds = (performance.now() - tSeed) / 1000;
  log(`timeline of ${counts.posts} posts on A's device`);
  await page.evaluate(() => momentsBench.close());
  await page.close();

  // The web app on the same database: open Moments, scroll the timeline to its end.
  const app = await context.newPage();
  app.on('pageerror', (e) => console.error(`[app error] ${e.message}`));
  await app.goto(`${server.url}/`);
  await app.getByRole('navigation', { name: 'Moments' }).getByRole('button', { name: /Moments/ }).click({ timeout: 60_000 });
  await app.getByRole('feed').getByRole('article').first().waitFor({ timeout: 60_000 });
  await app.addScriptTag({ url: '/bench-moments-scroll.js' });
  const scrolled = await app.evaluate((opts) => (globalThis as unknown as { benchScrollFeed: typeof scrollFeed }).benchScrollFeed(opts), { stepPx: o.scrollStep, maxSeconds: o.scrollSeconds });
  console.log(JSON.stringify({ bench: 'moments-timeline', posts: counts.posts, seededSeconds: round(postedSeconds, 1), onDeviceSeconds: round(receivedSeconds, 1), scrollStepPx: o.scrollStep, ...scrolled }));
  await app.close();

  // Then posting (A): from the SDK page again (the app closed: one client per device), a text-only post (fan-out to
  // every device), then one with the photos. The photos' downloads on 400 devices in this one process come last.
  const poster = await context.newPage();
  poster.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await poster.goto(`${server.url}/bench-moments.html`);
  await poster.waitForFunction(() => 'momentsBench' in globalThis);
  await poster.evaluate(() => momentsBench.open());
  const photoSizes = await poster.evaluate(([n, w, h, q]) => momentsBench.makePhotos(n, w, h, q), [o.photos, o.photoWidth, o.photoHeight, o.photoQuality] as const);
  log(`photos made: ${photoSizes.join(', ')} bytes`);
  const probe = new StorageProbe(server.dataDir);
  for (let run = 1; run <= o.posts; run++) {
    const withPhotos = run === o.posts && o.photos > 0;
    await measurePost({ page: poster, devices, probe, text: `Benchmark moment ${run} ${randomBytes(4).toString('hex')}`, withPhotos, waitMs: 2 * 60_000, photoWaitMs: 90_000, log });
  }
  probe.close();
  await poster.evaluate(() => momentsBench.close());
  await context.close();
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
