/**
 * The web app end to end, in the system Chromium, against a real `parley
 * serve` (SQLite). Every user is a separate browser context, so each has its
 * own IndexedDB: its own device, keys and history. One browser and one server
 * for the whole file; the flows run in order and build on each other.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { expectMessage, launchBrowser, openConversation, register, sendText, signIn, startChat, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}` };
const IMAGE = readFileSync(new URL('../apps/web/public/icons/icon-192.png', import.meta.url));

describe('web app in Chromium', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: User;
  let bob: User;
  let carol: User;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('two users register, chat both ways, and an image arrives', async () => {
    alice = await register(browser, server.url, names.alice);
    bob = await register(browser, server.url, names.bob);

    await startChat(alice, names.bob);
    await sendText(alice, 'Hello Bob — 你好 — مرحبا 👋');
    await expectMessage(alice, 'Hello Bob');

    // Bob sees the new conversation with an unread count, opens it, answers.
    await bob.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${names.alice}.*1 unread`) }).waitFor({ timeout: 30_000 });
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Hello Bob — 你好 — مرحبا 👋');
    await sendText(bob, 'Hi Alice, loud and clear');
    await expectMessage(alice, 'Hi Alice, loud and clear');

    // Shift+Enter is a new line, not a send.
    const box = alice.page.getByRole('textbox', { name: 'Message' });
    await box.fill('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    assert.equal(await box.inputValue(), 'first line\nsecond line');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await expectMessage(bob, 'second line');

    await alice.page.getByLabel('Attach file').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: IMAGE });
    await alice.page.getByRole('button', { name: 'Send' }).click();
    const img = bob.page.getByRole('log', { name: 'Messages' }).getByRole('img', { name: 'sunset.png' });
    await img.waitFor({ timeout: 30_000 });
    // Decrypted in Bob's browser and rendered: the image has real pixels.
    await bob.page.waitForFunction(() => {
      const el = document.querySelector('img[alt="sunset.png"]');
      return el instanceof HTMLImageElement && el.complete && el.naturalWidth === 192;
    });
  });

  it('unknown users get a clear error', async () => {
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New chat' });
    await dialog.getByLabel('Username').fill(`nobody${suffix}`);
    await dialog.getByRole('button', { name: 'Start chat' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'not found' }).waitFor({ timeout: 15_000 });
    await alice.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('a group of three: the removed member stops receiving', async () => {
    carol = await register(browser, server.url, names.carol);
    await alice.page.getByRole('button', { name: 'New group' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('Weekend trip');
    for (const n of [names.bob, names.carol]) {
      await dialog.getByLabel('Add member').fill(n);
      await dialog.getByRole('button', { name: 'Add member' }).click();
      await dialog.getByRole('list', { name: 'People to add' }).getByText(n).waitFor();
    }
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Weekend trip' }).waitFor({ timeout: 30_000 });
    await sendText(alice, 'Who brings the tent?');

    await openConversation(bob, 'Weekend trip');
    await expectMessage(bob, 'Who brings the tent?');
    await openConversation(carol, 'Weekend trip');
    await expectMessage(carol, 'Who brings the tent?');

    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    const info = alice.page.getByRole('dialog', { name: 'Group info' });
    await info.getByRole('button', { name: `Remove ${names.carol}` }).click();
    await info.getByRole('button', { name: `Remove ${names.carol}` }).waitFor({ state: 'detached', timeout: 30_000 });
    await alice.page.keyboard.press('Escape');

    await sendText(alice, 'Tent is sorted, thanks');
    await expectMessage(bob, 'Tent is sorted, thanks');
    await carol.page.getByText('You were removed from this conversation').waitFor({ timeout: 30_000 });
    // Give a wrongly delivered message time to show up, then check it did not.
    await expectMessage(bob, 'Tent is sorted, thanks');
    await carol.page.waitForTimeout(1000);
    assert.equal(await carol.page.getByRole('log', { name: 'Messages' }).getByText('Tent is sorted').count(), 0);
    assert.equal(await carol.page.getByRole('textbox', { name: 'Message' }).count(), 0);
  });

  it('a second device of the same user receives new messages', async () => {
    const alice2 = await signIn(browser, server.url, names.alice);
    try {
      // Alice's first device adds the new one to her conversations. Until a group's roster
      // message arrives its title is unknown and it is listed by member names, so wait for it.
      await alice2.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /^Weekend trip/ }).waitFor({ timeout: 30_000 });
      await openConversation(alice2, names.bob);
      await openConversation(bob, names.alice);
      await sendText(bob, 'Did your new laptop get this?');
      await expectMessage(alice2, 'Did your new laptop get this?');
      await openConversation(alice, names.bob);
      await expectMessage(alice, 'Did your new laptop get this?');

      // The devices list marks the current device; the other one can be revoked.
      await alice2.page.getByRole('button', { name: 'Settings' }).click();
      const settings = alice2.page.getByRole('dialog', { name: 'Settings' });
      await settings.getByText('This device', { exact: true }).waitFor();
      await settings.getByRole('button', { name: /^Revoke / }).first().waitFor();

      // Sign out asks first, then deletes this browser's data and returns to sign-in.
      await settings.getByRole('button', { name: 'Sign out' }).click();
      await alice2.page.getByRole('button', { name: 'Sign out and delete local data' }).click();
      await alice2.page.getByRole('button', { name: 'Register' }).waitFor({ timeout: 30_000 });
      // The signed-out app opened a fresh, empty store: no keys, no history are left.
      const records = await alice2.page.evaluate(
        () =>
          new Promise<number>((resolve, reject) => {
            const req = indexedDB.open('parley');
            req.onerror = () => reject(new Error('open failed'));
            req.onsuccess = () => {
              const db = req.result;
              const names = [...db.objectStoreNames];
              if (names.length === 0) return resolve(0);
              const tx = db.transaction(names, 'readonly');
              let total = 0;
              for (const n of names) tx.objectStore(n).count().onsuccess = (e) => (total += (e.target as IDBRequest<number>).result);
              tx.oncomplete = () => {
                db.close();
                resolve(total);
              };
            };
          }),
      );
      assert.equal(records, 0);

      // A wrong password is a clear error, not a crash.
      await alice2.page.getByLabel('Username').fill(names.alice);
      await alice2.page.getByLabel('Password').fill('not the password at all');
      await alice2.page.getByRole('button', { name: 'Sign in' }).click();
      await alice2.page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor({ timeout: 30_000 });
    } finally {
      await alice2.context.close();
    }
  });

  it('a reload keeps the history (from IndexedDB)', async () => {
    await openConversation(alice, names.bob);
    await alice.page.reload();
    await alice.page.getByRole('heading', { level: 2, name: names.bob }).waitFor({ timeout: 30_000 });
    await expectMessage(alice, 'Hello Bob — 你好 — مرحبا 👋');
    await expectMessage(alice, 'Did your new laptop get this?');

    // Installable: a manifest and an active service worker that cached the app shell (never the API).
    const pwa = await alice.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      const cached = (await Promise.all((await caches.keys()).map(async (k) => (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname)))).flat();
      const manifest = document.querySelector('link[rel="manifest"]')?.getAttribute('href');
      return { active: reg.active !== null, cached, manifest };
    });
    assert.ok(pwa.active);
    assert.equal(pwa.manifest, '/manifest.webmanifest');
    assert.ok(pwa.cached.includes('/index.html'));
    assert.ok(pwa.cached.some((p) => p.startsWith('/assets/')));
    assert.ok(!pwa.cached.some((p) => p.startsWith('/v1')));
  });

  it('a long history is virtualised and pages back to the start', async () => {
    await openConversation(bob, names.alice);
    for (let i = 1; i <= 75; i++) await sendText(bob, `numbered message ${i}`);
    await expectMessage(alice, 'numbered message 75');
    await alice.page.reload();
    await expectMessage(alice, 'numbered message 75');
    const log = alice.page.getByRole('log', { name: 'Messages' });
    // Only the rows near the viewport exist in the DOM.
    assert.ok((await log.getByRole('article').count()) < 60);
    // Scrolling up loads earlier pages until the first message of the conversation shows.
    const first = log.getByRole('article').filter({ hasText: 'Hello Bob — 你好' });
    for (let i = 0; i < 40 && (await first.count()) === 0; i++) {
      await alice.page.locator('.message-scroll').evaluate((el) => el.scrollTo({ top: 0 }));
      await alice.page.waitForTimeout(150);
    }
    await first.waitFor({ timeout: 10_000 });
  });

  it('the app reconnects by itself after a server restart', async () => {
    const status = alice.page.getByRole('status', { name: 'Connection' });
    await status.filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    await server.stop();
    await status.filter({ hasNotText: 'Connected' }).waitFor({ timeout: 30_000 });
    await server.resume();
    await status.filter({ hasText: 'Connected' }).waitFor({ timeout: 60_000 });
    await bob.page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Connected' }).waitFor({ timeout: 60_000 });
    await sendText(alice, 'Back after the restart');
    await expectMessage(bob, 'Back after the restart');
  });
});
