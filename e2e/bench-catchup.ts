/**
 * Browser catch-up, measured (not a test): `npm run bench:browser-catchup [-- --messages N] [--runs R]`.
 *
 * A browser user (the built web app in the system Chromium) has a 1:1
 * conversation with a Node SDK user. The browser tab is closed; the SDK user
 * sends N messages (default 1,000); a new tab of the same browser profile
 * (same IndexedDB) opens the conversation again. Measured from the page load
 * until the conversation list is painted, and until the last message is
 * visible in the conversation view. Prints one JSON line per run.
 * `--profile DIR` writes the page's V8 CPU profile of each catch-up to DIR
 * (read it with bench/src/profile-summary.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, MemoryStore } from '@parley/client';
import { launchBrowser, register } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const messages = Number(arg('messages') ?? 1000);
const runs = Number(arg('runs') ?? 1);
const profileDir = arg('profile');
if (!Number.isSafeInteger(messages) || messages < 1 || !Number.isSafeInteger(runs) || runs < 1) throw new Error('--messages and --runs take positive integers');

const built = spawnSync(process.execPath, [new URL('../scripts/build-web.mjs', import.meta.url).pathname], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('building the web app failed');

const server = await TestServer.start();
const browser = await launchBrowser();
try {
  for (let run = 0; run < runs; run++) {
    const id = randomBytes(4).toString('hex');
    const reader = await register(browser, server.url, `reader${id}`);
    const writer = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
    await writer.register(`writer${id}`, 'correct horse battery staple');
    const conv = await writer.createConversation([reader.username]);
    const nav = reader.page.getByRole('navigation', { name: 'Conversations' });
    await nav.getByRole('button', { name: new RegExp(`^writer${id}`) }).waitFor({ timeout: 30_000 });
    await writer.send(conv.id, 'hello before the tab closes');
    await reader.page.goto(`${server.url}/#/c/${conv.id}`);
    await reader.page.getByRole('log', { name: 'Messages' }).getByText('hello before the tab closes').waitFor({ timeout: 30_000 });
    await reader.page.close();

    const sendStart = performance.now();
    for (let i = 1; i <= messages; i++) await writer.send(conv.id, `catch-up ${i} of ${messages}`);
    const sendSeconds = (performance.now() - sendStart) / 1000;

    const page = await reader.context.newPage();
    const cdp = profileDir === undefined ? undefined : await reader.context.newCDPSession(page);
    if (cdp !== undefined) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const start = performance.now();
    await page.goto(`${server.url}/#/c/${conv.id}`);
    const list = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^writer${id}`) });
    const listShown = list.waitFor({ timeout: 300_000 }).then(() => performance.now());
    await page.getByRole('log', { name: 'Messages' }).getByText(`catch-up ${messages} of ${messages}`, { exact: true }).waitFor({ timeout: 600_000 });
    const last = performance.now();
    const listAt = await listShown;
    if (cdp !== undefined && profileDir !== undefined) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(join(profileDir, `browser-catchup-${run}.cpuprofile`), JSON.stringify(profile));
    }
    console.log(
      JSON.stringify({
        scenario: 'browser-catch-up',
        messages,
        lastShownSeconds: round((last - start) / 1000),
        msPerMessage: round((last - start) / messages),
        listShownSeconds: round((listAt - start) / 1000),
        sendSeconds: round(sendSeconds),
      }),
    );
    await page.close();
    await reader.context.close();
    await writer.close();
  }
} finally {
  await browser.close();
  await server.dispose();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
