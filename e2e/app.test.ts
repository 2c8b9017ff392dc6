/**
 * The web app end to end, in the system Chromium, against a real `parley
 * serve` (SQLite). Every user is a separate browser context, so each has its
 * own IndexedDB: its own device, keys and history. One browser and one server
 * for the whole file; the flows run in order and build on each other.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { closeSettings, expectMessage, launchBrowser, linkDevice, openApp, openApproval, openConversation, openRequests, PASSWORD, register, sendText, startChat, startLinking, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}`, dave: `dave${suffix}` };
const IMAGE = readFileSync(new URL('../apps/web/public/icons/icon-192.png', import.meta.url));

describe('web app in Chromium', { timeout: 600_000 }, () => {
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

    // Alice is not Bob's contact: her chat is a message request, in "Requests" with an unread count; he accepts it, opens it, answers.
    const requests = await openRequests(bob);
    await requests.getByRole('button', { name: new RegExp(`^${names.alice}.*1 unread`) }).waitFor({ timeout: 30_000 });
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

  it('a second device joins by approval and receives new messages; contacts see a safety-number notice', async () => {
    const alice2 = await linkDevice(browser, server.url, alice);
    try {
      // Alice's first device adds the new one to her conversations. Until a group's roster
      // message arrives its title is unknown and it is listed by member names, so wait for it.
      await alice2.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /^Weekend trip/ }).waitFor({ timeout: 30_000 });

      // Bob's chat with Alice says, as a system line and not as a message, that her safety number changed.
      await openConversation(bob, names.alice);
      const notice = bob.page.getByRole('log', { name: 'Messages' }).getByText(new RegExp(`^${names.alice}’s safety number changed — a device was added`));
      await notice.waitFor({ timeout: 30_000 });
      assert.equal(await bob.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'safety number changed' }).count(), 0);
      await bob.page.getByRole('log', { name: 'Messages' }).getByRole('button', { name: `Verify ${names.alice}’s safety number` }).first().click();
      const contact = bob.page.getByRole('dialog', { name: 'Contact info' });
      await contact.getByLabel('Safety number').waitFor({ timeout: 30_000 });
      await bob.page.keyboard.press('Escape');
      await contact.waitFor({ state: 'hidden' });

      await openConversation(alice2, names.bob);
      await sendText(bob, 'Did your new laptop get this?');
      await expectMessage(alice2, 'Did your new laptop get this?');
      await openConversation(alice, names.bob);
      await expectMessage(alice, 'Did your new laptop get this?');

      // The devices list marks the current device; the other one can be revoked.
      await alice2.page.getByRole('button', { name: 'Settings' }).click();
      const settings = alice2.page.getByRole('dialog', { name: 'Settings' });
      await settings.getByText('This device', { exact: true }).waitFor();
      await settings.getByRole('button', { name: /^Revoke / }).first().waitFor();
      // Both devices are named: each sealed its name under the account key the first device shared with the
      // new one inside MLS, and the list decrypts them here. The server holds only ciphertext.
      const deviceList = settings.getByRole('list', { name: 'Devices' });
      await deviceList.getByRole('listitem').nth(1).waitFor({ timeout: 30_000 });
      await waitUntil(async () => (await deviceList.getByText('Unnamed device').count()) === 0, 'both device names decrypted', 30_000);
      const shown = await settings.getByRole('button', { name: /^Revoke / }).first().getAttribute('aria-label');
      const otherName = shown?.replace(/^Revoke /, '') ?? '';
      assert.ok(otherName.length > 0 && otherName !== 'Unnamed device', `the other device's name: ${otherName}`);
      assert.equal(serverFiles(server.dataDir).indexOf(Buffer.from(otherName)), -1, 'the server holds no device name in clear');

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

  it('a link that is rejected never enters, and its code is dead', async () => {
    // A code nobody is waiting with is a clear error.
    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Link a new device' }).click();
    const link = alice.page.getByRole('dialog', { name: 'Link a new device' });
    await link.getByLabel('Code from the new device').fill('ZZZZZ-ZZZZZ');
    await link.getByRole('button', { name: 'Continue' }).click();
    await link.getByRole('alert').filter({ hasText: 'No device is waiting with that code' }).waitFor({ timeout: 30_000 });
    await closeSettings(alice);

    const { user: stranger, code } = await startLinking(browser, server.url, names.alice);
    try {
      const approve = await openApproval(alice, code);
      await approve.getByText('Not checked: the code was typed', { exact: false }).waitFor();
      await approve.getByRole('button', { name: 'Reject' }).click();
      await alice.page.getByRole('dialog', { name: 'Device rejected' }).getByRole('button', { name: 'Done' }).click();
      await closeSettings(alice);

      // The waiting browser is told and is back at sign-in, never in the app.
      await stranger.page.getByRole('alert').filter({ hasText: 'rejected' }).waitFor({ timeout: 30_000 });
      await stranger.page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.equal(await stranger.page.getByRole('heading', { name: 'Link this device' }).count(), 0);
      assert.equal(await stranger.page.getByRole('button', { name: 'New chat' }).count(), 0);

      // The same code cannot be approved afterwards.
      await alice.page.getByRole('button', { name: 'Settings' }).click();
      await alice.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Link a new device' }).click();
      await link.getByLabel('Code from the new device').fill(code);
      await link.getByRole('button', { name: 'Continue' }).click();
      await link.getByRole('alert').filter({ hasText: 'No device is waiting with that code' }).waitFor({ timeout: 30_000 });
      await closeSettings(alice);
    } finally {
      await stranger.context.close();
    }
  });

  it('a password change signs out the other devices; they sign in again with the new one and keep their history', async () => {
    const next = 'a brand new passphrase 42';
    const laptop = await linkDevice(browser, server.url, alice);
    try {
      // Until the group's roster reaches the laptop, "Weekend trip" (alice and bob since carol left) is
      // listed by member names — as "bob…", like the 1:1. Wait for its title before opening the 1:1.
      await laptop.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /^Weekend trip/ }).waitFor({ timeout: 30_000 });
      await openConversation(bob, names.alice);
      await sendText(bob, 'Before the password change');
      await openConversation(laptop, names.bob);
      await expectMessage(laptop, 'Before the password change');

      await alice.page.getByRole('button', { name: 'Settings' }).click();
      await alice.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Change password' }).click();
      const dialog = alice.page.getByRole('dialog', { name: 'Change password' });
      const submit = dialog.getByRole('button', { name: 'Change password' });

      await dialog.getByLabel('Current password').fill('this is not my password');
      await dialog.getByLabel('New password', { exact: true }).fill(next);
      await dialog.getByLabel('Confirm new password').fill(next);
      await submit.click();
      await dialog.getByRole('alert').filter({ hasText: 'The current password is wrong' }).waitFor({ timeout: 30_000 });

      await dialog.getByLabel('Current password').fill(PASSWORD);
      await dialog.getByLabel('Confirm new password').fill(`${next}!`);
      await submit.click();
      await dialog.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();

      await dialog.getByLabel('Confirm new password').fill(next);
      await dialog.getByLabel('Sign out my other devices').check();
      await submit.click();
      await alice.page.getByRole('dialog', { name: 'Password changed' }).getByRole('button', { name: 'Done' }).click();
      await closeSettings(alice);
      // The device that changed it stays signed in.
      await alice.page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });

      // The laptop's session ended. An open socket learns it at the server's next session check
      // (within a minute); a reload connects afresh and learns it at once.
      await laptop.page.reload();
      // It asks for the password and signs in again with its own key.
      const again = laptop.page.getByRole('region', { name: 'Signed out' });
      await again.waitFor({ timeout: 30_000 });
      await again.getByLabel('Password').fill(PASSWORD);
      await again.getByRole('button', { name: 'Sign in again' }).click();
      await again.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor({ timeout: 30_000 });
      await again.getByLabel('Password').fill(next);
      await again.getByRole('button', { name: 'Sign in again' }).click();
      await again.waitFor({ state: 'hidden', timeout: 30_000 });
      await laptop.page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
      // Same device, same history, and new messages still arrive.
      await openConversation(laptop, names.bob);
      await expectMessage(laptop, 'Before the password change');
      await sendText(bob, 'After the password change');
      await expectMessage(laptop, 'After the password change');
    } finally {
      await laptop.context.close();
    }

    // On a new browser the old password is refused; the new one starts linking.
    const { context, page } = await openApp(browser, server.url);
    try {
      await page.getByLabel('Username').fill(names.alice);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor({ timeout: 30_000 });
      await page.getByLabel('Password').fill(next);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Link this device' }).waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
    }
  });

  it('starting over is shown to contacts, and a verified contact is asked before sending', async () => {
    const dave = await register(browser, server.url, names.dave);
    const { context, page } = await openApp(browser, server.url);
    try {
      await startChat(bob, names.dave);
      await sendText(bob, 'Hi Dave, before your phone went swimming');
      await openConversation(dave, names.bob);
      await expectMessage(dave, 'before your phone went swimming');

      // Bob compares safety numbers with Dave and marks him verified.
      await bob.page.getByRole('button', { name: 'Conversation info' }).click();
      const info = bob.page.getByRole('dialog', { name: 'Contact info' });
      await info.getByRole('button', { name: 'Mark as verified' }).click();
      await info.getByRole('button', { name: 'Mark as not verified' }).waitFor({ timeout: 30_000 });
      await bob.page.keyboard.press('Escape');
      await info.waitFor({ state: 'hidden' });

      // Dave lost his only device: on a new browser he starts over, after confirming.
      await page.getByRole('button', { name: 'Start over' }).click();
      await page.getByRole('heading', { name: 'Start over' }).waitFor();
      await page.getByLabel('Username').fill(names.dave);
      await page.getByLabel('Password').fill(PASSWORD);
      const go = page.getByRole('button', { name: 'Start over' });
      assert.ok(await go.isDisabled());
      await page.getByLabel(/I understand/).check();
      await go.click();
      await page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 60_000 });
      const daveNew: User = { context, page, username: names.dave };

      // His old device is signed out for good.
      await dave.page.getByRole('alert').filter({ hasText: 'This device was revoked' }).waitFor({ timeout: 30_000 });

      // Bob's chat says so, and because he had verified Dave, sending asks first.
      await bob.page.getByRole('log', { name: 'Messages' }).getByText(`${names.dave} started over with a new identity`).waitFor({ timeout: 60_000 });
      await sendText(bob, 'Is this really you?');
      const ask = bob.page.getByRole('dialog', { name: 'Safety number changed' });
      await ask.getByText(`${names.dave}’s safety number changed. Verify it again, or send anyway.`).waitFor({ timeout: 30_000 });
      await ask.getByRole('button', { name: 'Send anyway' }).click();
      await ask.waitFor({ state: 'hidden' });

      // Only the new message reaches Dave's new device; the old one's history stays lost.
      await openConversation(daveNew, names.bob);
      await expectMessage(daveNew, 'Is this really you?');
      assert.equal(await daveNew.page.getByRole('log', { name: 'Messages' }).getByText('before your phone went swimming').count(), 0);
      // Bob's verification was reset: the chat no longer says "Verified".
      await bob.page.getByText('End-to-end encrypted', { exact: true }).waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
      await dave.context.close();
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

describe('quotas in the web app', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    // The smallest file quota the server accepts, so one upload can exceed it.
    server = await TestServer.start({ env: { PARLEY_QUOTA_BLOB_BYTES: String(1024 * 1024) } });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('a file over the account’s storage quota is refused with a clear message in the composer', async () => {
    const ann = await register(browser, server.url, `ann${suffix}`);
    const ben = await register(browser, server.url, `ben${suffix}`);
    await startChat(ann, ben.username);
    await ann.page.getByLabel('Attach file').setInputFiles({ name: 'archive.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1_200_000, 7) });
    await ann.page.getByRole('button', { name: 'Send' }).click();
    await ann.page.getByRole('alert').filter({ hasText: 'storage limit for files' }).waitFor({ timeout: 30_000 });
    await ann.page.getByRole('log', { name: 'Messages' }).getByText('Not sent').waitFor();

    // Messages without a file still go through.
    await sendText(ann, 'Too big to send, I will share a link');
    await openConversation(ben, ann.username);
    await expectMessage(ben, 'Too big to send, I will share a link');
    assert.equal(await ben.page.getByRole('log', { name: 'Messages' }).getByText('archive.bin').count(), 0);
  });
});

/** Polls `check` until it is true (or fails with `what` after `timeoutMs`). */
async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every file in the server's data directory (database, its WAL, blobs), as one buffer. */
function serverFiles(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    parts.push(e.isDirectory() ? serverFiles(p) : readFileSync(p));
  }
  return Buffer.concat(parts);
}
