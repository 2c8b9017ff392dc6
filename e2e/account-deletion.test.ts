/**
 * Settings → Delete account in Chromium, against a real `parley serve`: a
 * wrong password is refused and changes nothing; the right one deletes the
 * account, this browser is back at the start with nothing kept, and the name
 * stays taken during the cooling-off period.
 */
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { closeSettings, expectMessage, launchBrowser, openApp, openConversation, PASSWORD, register, sendText, startChat } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `erin${suffix}`, bob: `finn${suffix}` };

describe('account deletion in Chromium', { timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('asks for the password, deletes the account, returns to the start, and the name stays taken', async () => {
    const alice = await register(browser, server.url, names.alice);
    const bob = await register(browser, server.url, names.bob);
    await startChat(alice, names.bob);
    await sendText(alice, 'Before I go');
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Before I go');

    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Delete account' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Delete account?' });
    await dialog.getByLabel('Password').fill('this is not my password');
    await dialog.getByRole('button', { name: 'Delete account' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'The password is wrong' }).waitFor({ timeout: 30_000 });
    // Nothing changed: the chat still works both ways.
    await sendText(bob, 'Still there?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await closeSettings(alice);
    await expectMessage(alice, 'Still there?');

    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Delete account' }).click();
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Delete account' }).click();
    // Back at the start, nothing kept: the form to register or sign in.
    await alice.page.getByRole('button', { name: 'Register' }).waitFor({ timeout: 60_000 });

    // The name is held back.
    const { context, page } = await openApp(browser, server.url);
    try {
      await page.getByLabel('Username').fill(names.alice);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByRole('alert').filter({ hasText: 'That username is taken' }).waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
      await alice.context.close();
      await bob.context.close();
    }
  });
});
