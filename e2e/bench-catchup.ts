/**
 * Browser catch-up, measured (not a test): `npm run bench:browser-catchup [-- --messages N] [--runs R]`.
 *
 * A browser user (the built web app in the system Chromium) has a 1:1
 * conversation with a Node SDK user. The browser tab is closed; the SDK user
 * sends N messages (default 1,000); a new tab of the same browser profile
 * (same IndexedDB) opens the conversation again. Measured from the page load
 * until the conversation list is painted, and until the last message is
 * visible in the conversation view; over that window also the page's
 * main-thread time (CDP Performance metrics) and the CPU time of every
 * process this script started (Chromium and the server), which do not grow
 * with other load on the machine, and of Chromium's renderer processes alone
 * (`rendererCpuSeconds`). Prints one JSON line per run.
 * `--profile DIR` writes the page's V8 CPU profile of each catch-up to DIR
 * (read it with bench/src/profile-summary.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, MemoryStore } from '@parley/client';
import type { CDPSession } from 'playwright-core';
import { launchBrowser, openConversation, register } from './helpers/browser.js';
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
    // The writer is a stranger: the chat arrives as a message request, accepted once (it is then in the list).
    await openConversation(reader, `writer${id}`);
    await writer.send(conv.id, 'hello before the tab closes');
    await reader.page.goto(`${server.url}/#/c/${conv.id}`);
    await reader.page.getByRole('log', { name: 'Messages' }).getByText('hello before the tab closes').waitFor({ timeout: 30_000 });
    await reader.page.close();

    const sendStart = performance.now();
    for (let i = 1; i <= messages; i++) await writer.send(conv.id, `catch-up ${i} of ${messages}`);
    const sendSeconds = (performance.now() - sendStart) / 1000;

    const page = await reader.context.newPage();
    // The renderer's main-thread time (CDP Performance metrics) says what the catch-up cost, whatever else the machine runs.
    const cdp = await reader.context.newCDPSession(page);
    await cdp.send('Performance.enable');
    if (profileDir !== undefined) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const busyBefore = await mainThreadSeconds(cdp);
    const cpuBefore = browserCpuSeconds();
    const rendererBefore = browserCpuSeconds(isRenderer);
    const start = performance.now();
    await page.goto(`${server.url}/#/c/${conv.id}`);
    const list = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^writer${id}`) });
    const listShown = list.waitFor({ timeout: 300_000 }).then(() => performance.now());
    await page.getByRole('log', { name: 'Messages' }).getByText(`catch-up ${messages} of ${messages}`, { exact: true }).waitFor({ timeout: 600_000 });
    const last = performance.now();
    const listAt = await listShown;
    const cpuAfter = browserCpuSeconds();
    const rendererAfter = browserCpuSeconds(isRenderer);
    const busyAfter = await mainThreadSeconds(cdp);
    const busy = { task: busyAfter.task - busyBefore.task, script: busyAfter.script - busyBefore.script, layout: busyAfter.layout - busyBefore.layout };
    if (profileDir !== undefined) {
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
        mainThreadBusySeconds: round(busy.task),
        browserCpuSeconds: round(cpuAfter - cpuBefore),
        rendererCpuSeconds: round(rendererAfter - rendererBefore),
        scriptSeconds: round(busy.script),
        layoutSeconds: round(busy.layout),
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

/**
 * CPU time (user + system) of every process this script started (Chromium's
 * browser, renderer, GPU and utility processes and the server), from /proc:
 * unlike wall-clock time it does not grow when other work shares the cores.
 */
function browserCpuSeconds(only?: (pid: number) => boolean): number {
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
        if (only === undefined || only(pid)) total += seconds;
        break;
      }
    }
  }
  return total;
}

/** Chromium's renderer processes (the page's JavaScript, layout and paint; not IndexedDB, network or the server). */
function isRenderer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
  } catch {
    return false;
  }
}

/** Cumulative main-thread task and script time of the page, in seconds. */
async function mainThreadSeconds(cdp: CDPSession): Promise<{ task: number; script: number; layout: number }> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
  return { task: get('TaskDuration'), script: get('ScriptDuration'), layout: get('LayoutDuration') + get('RecalcStyleDuration') };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
