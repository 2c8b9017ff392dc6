/**
 * History on a newly linked device, browser to browser, measured (not a test):
 * `npm run bench:browser-history [-- --messages N] [--runs R]`.
 *
 * The built web app in the system Chromium (headless), each browser profile
 * with its own IndexedDB. A Node SDK user sends N texts (default 10,000) to a
 * browser user, whose page stores them (the conversation open until the last
 * one is shown). A second browser profile signs in as the same user and shows
 * its link code; the first approves it with "Transfer history: Everything".
 * Measured on the new page: from the click on Approve until "Importing
 * history…" shows (device sync adds it; the approving page writes, encrypts
 * and uploads the archive and sends its key), until "History imported" shows
 * (download, checks, validation, one IndexedDB transaction), and until the
 * last message is visible once the conversation is opened. One JSON line per run.
 * PARLEY_E2E_WEB_DIR: serve an existing build instead of building apps/web/dist.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient, MemoryStore } from '@parley/client';
import { closeSettings, launchBrowser, openApproval, register, startLinking } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const messages = Number(arg('messages') ?? 10_000);
const runs = Number(arg('runs') ?? 1);
if (!Number.isSafeInteger(messages) || messages < 1 || !Number.isSafeInteger(runs) || runs < 1) throw new Error('--messages and --runs take positive integers');

if (process.env['PARLEY_E2E_WEB_DIR'] === undefined) {
  const built = spawnSync(process.execPath, [new URL('../scripts/build-web.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('building the web app failed');
}

// 10,000 sends in a row from one SDK user: no rate limits (the default ones refuse a second run).
const server = await TestServer.start({ env: { PARLEY_RATE_LIMITS: 'off' } });
const browser = await launchBrowser();
try {
  for (let run = 0; run < runs; run++) {
    const id = randomBytes(4).toString('hex');
    const alice = await register(browser, server.url, `alice${id}`);
    const writer = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0, receiptDelayMs: 60_000 });
    await writer.register(`writer${id}`, 'correct horse battery staple');
    const conv = await writer.createConversation([alice.username]);
    const sendStart = performance.now();
    for (let i = 1; i <= messages; i++) await writer.send(conv.id, `history ${i} of ${messages}`);
    const sendSeconds = (performance.now() - sendStart) / 1000;
    // Every message stored in the first browser's IndexedDB before the link starts.
    await alice.page.goto(`${server.url}/#/c/${conv.id}`);
    await alice.page.getByRole('log', { name: 'Messages' }).getByText(`history ${messages} of ${messages}`, { exact: true }).waitFor({ timeout: 900_000 });
    await alice.page.goto(server.url);
    await alice.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });

    const { user: laptop, code } = await startLinking(browser, server.url, alice.username);
    const approve = await openApproval(alice, code);
    await approve.getByRole('radiogroup', { name: 'Transfer history' }).getByRole('radio', { name: 'Everything', exact: true }).check();
    const start = performance.now();
    await approve.getByRole('button', { name: 'Approve' }).click();
    // Seen while it shows (it may be replaced before the next poll on a small archive: then NaN).
    let importingAt = NaN;
    void laptop.page
      .getByRole('status')
      .filter({ hasText: 'Importing history' })
      .waitFor({ timeout: 900_000 })
      .then(() => (importingAt = performance.now()))
      .catch(() => undefined);
    const notice = laptop.page.getByRole('status').filter({ hasText: 'History imported' });
    await notice.waitFor({ timeout: 900_000 });
    const imported = performance.now();
    const shown = (await notice.textContent()) ?? '';
    await alice.page.getByRole('dialog', { name: 'Device linked' }).getByRole('button', { name: 'Done' }).click();
    await closeSettings(alice);
    await laptop.page.goto(`${server.url}/#/c/${conv.id}`);
    await laptop.page.getByRole('log', { name: 'Messages' }).getByText(`history ${messages} of ${messages}`, { exact: true }).waitFor({ timeout: 120_000 });
    const lastShown = performance.now();
    console.log(
      JSON.stringify({
        scenario: 'history-transfer-browser',
        messages,
        notice: shown.trim(),
        approveToImportingSeconds: round((importingAt - start) / 1000),
        importingToImportedSeconds: round((imported - importingAt) / 1000),
        totalSeconds: round((imported - start) / 1000),
        messagesPerS: Math.round(messages / ((imported - start) / 1000)),
        reloadToLastShownSeconds: round((lastShown - imported) / 1000),
        sendSeconds: round(sendSeconds),
      }),
    );
    await laptop.context.close();
    await alice.context.close();
    await writer.close();
  }
} finally {
  await browser.close();
  await server.dispose();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
