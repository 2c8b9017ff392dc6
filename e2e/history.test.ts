/**
 * History on a newly linked device, in Chromium against a real `parley
 * serve`: the approving browser chooses "Transfer history" (Last month by
 * default), the new browser shows "History imported" and then the
 * conversation with the messages from before it was linked, read from its
 * own IndexedDB.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { closeSettings, expectMessage, launchBrowser, openApproval, openConversation, register, sendText, startChat, startLinking } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `hana${suffix}`, bob: `ivan${suffix}` };

describe('history on a linked device in Chromium', { timeout: 300_000 }, () => {
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

  it('a newly approved second device shows the history it was given', async () => {
    const alice = await register(browser, server.url, names.alice);
    const bob = await register(browser, server.url, names.bob);
    await startChat(alice, names.bob);
    await sendText(alice, 'Before the new laptop');
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Before the new laptop');
    await sendText(bob, 'An answer from before');
    await expectMessage(alice, 'An answer from before');

    const { user: laptop, code } = await startLinking(browser, server.url, names.alice);
    try {
      const approve = await openApproval(alice, code);
      const choice = approve.getByRole('radiogroup', { name: 'Transfer history' });
      assert.equal(await choice.getByRole('radio', { name: 'Last month', exact: true }).isChecked(), true, 'the last month by default');
      assert.equal(await choice.getByRole('radio', { name: 'None', exact: true }).isChecked(), false);
      await choice.getByRole('radio', { name: 'Everything', exact: true }).check();
      await approve.getByRole('button', { name: 'Approve' }).click();
      await alice.page.getByRole('dialog', { name: 'Device linked' }).getByRole('button', { name: 'Done' }).click();
      await closeSettings(alice);

      await laptop.page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 60_000 });
      await laptop.page.getByRole('status').filter({ hasText: 'History imported' }).waitFor({ timeout: 60_000 });
      await openConversation(laptop, names.bob);
      await expectMessage(laptop, 'Before the new laptop');
      await expectMessage(laptop, 'An answer from before');

      // The conversation goes on there too.
      await sendText(bob, 'Welcome, laptop');
      await expectMessage(laptop, 'Welcome, laptop');
    } finally {
      await laptop.context.close();
      await alice.context.close();
      await bob.context.close();
    }
  });
});
