/**
 * Groups that heal, in Chromium against a real `parley serve`: Bob's browser
 * loses its MLS state for his chat with Alice (the group record in its
 * IndexedDB overwritten with garbage while the app is closed). Back in the
 * app it cannot read what Alice sent meanwhile: the conversation shows
 * "Rejoining this conversation…" and a "Some messages could not be
 * decrypted" line instead of a silently dead chat. Alice's browser, once it is
 * online again, re-adds Bob's device by itself; new messages then flow both
 * ways, and what was sent in the gap is never shown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator } from 'playwright-core';
import { expectMessage, launchBrowser, openConversation, register, sendText, startChat, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `hana${suffix}`, bob: `ivo${suffix}` };
/** The app's IndexedDB database (apps/web/src/app/session.tsx) and the store's object stores (packages/client/src/store). */
const DATABASE = 'parley';

function log(user: User): Locator {
  return user.page.getByRole('log', { name: 'Messages' });
}

function rejoining(user: User): Locator {
  return user.page.getByRole('status').filter({ hasText: 'Rejoining this conversation' });
}

/** Leaves the app for a page of the same origin that runs none of it (so its IndexedDB can be changed with nothing writing to it). */
async function leaveApp(user: User, server: TestServer): Promise<void> {
  await user.page.goto(`${server.url}/health`);
}

/**
 * Overwrites the stored MLS group state of the conversation with `peer` (a
 * group record is keyed by the group id, like its conversation record) with
 * bytes that are not a group state. Returns how many records it overwrote.
 */
async function corruptGroupState(user: User, peer: string): Promise<number> {
  return user.page.evaluate(
    async ({ database, peer }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open(database);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(new Error(r.error?.message ?? 'open failed'));
      });
      try {
        const entries = await new Promise<Array<{ key: IDBValidKey; value: unknown }>>((resolve, reject) => {
          const out: Array<{ key: IDBValidKey; value: unknown }> = [];
          const r = db.transaction(['conversations'], 'readonly').objectStore('conversations').openCursor();
          r.onsuccess = () => {
            const cursor = r.result;
            if (cursor === null) return resolve(out);
            out.push({ key: cursor.key, value: cursor.value });
            cursor.continue();
          };
          r.onerror = () => reject(new Error(r.error?.message ?? 'cursor failed'));
        });
        const ids = entries
          .filter(({ value }) => {
            if (typeof value !== 'string') return false;
            const record = JSON.parse(value) as { members?: Array<{ username: string | null }> };
            return record.members?.some((m) => m.username === peer) === true;
          })
          .map(({ key }) => key);
        await new Promise<void>((resolve, reject) => {
          const tx = db.transaction(['groups'], 'readwrite');
          const groups = tx.objectStore('groups');
          for (const id of ids) groups.put('garbage', id);
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(new Error(tx.error?.message ?? 'write failed'));
        });
        return ids.length;
      } finally {
        db.close();
      }
    },
    { database: DATABASE, peer },
  );
}

describe('groups that heal in Chromium', { timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: User;
  let bob: User;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser();
    alice = await register(browser, server.url, names.alice);
    bob = await register(browser, server.url, names.bob);
    await startChat(alice, names.bob);
    await sendText(alice, 'Hello before the break');
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Hello before the break');
    await sendText(bob, 'Bob was here before');
    await expectMessage(alice, 'Bob was here before');
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('a browser whose stored group state is corrupted shows it is rejoining, is re-added by the other member, and then reads and sends again', async () => {
    // Bob's device goes away and its stored MLS state for the chat is destroyed.
    await leaveApp(bob, server);
    assert.equal(await corruptGroupState(bob, names.alice), 1, 'one group record overwritten');

    // Alice writes while Bob is away, then closes the app too: nobody is online to heal Bob yet.
    await sendText(alice, 'Sent in the gap');
    await alice.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'Sent in the gap' }).locator('.status.sent, .status.delivered, .status.read').first().waitFor({ timeout: 30_000 });
    await leaveApp(alice, server);

    // Bob is back: his device cannot read the chat any more; it says so, and asks to be re-added.
    await bob.page.goto(server.url);
    await openConversation(bob, names.alice);
    await rejoining(bob).waitFor({ timeout: 30_000 });
    await log(bob).getByText('Some messages could not be decrypted').waitFor({ timeout: 30_000 });
    assert.equal(await bob.page.getByRole('textbox', { name: 'Message' }).count(), 0, 'no composer while rejoining');
    await bob.page.getByRole('navigation', { name: 'Conversations' }).getByText('Rejoining…').waitFor();

    // Alice's browser comes back online and re-adds Bob's device by itself (nobody clicks anything).
    await alice.page.goto(server.url);
    await openConversation(alice, names.bob);
    await rejoining(bob).waitFor({ state: 'detached', timeout: 150_000 });
    await bob.page.getByRole('textbox', { name: 'Message' }).waitFor({ timeout: 30_000 });

    // New messages flow both ways.
    await sendText(alice, 'Welcome back, Bob');
    await expectMessage(bob, 'Welcome back, Bob', 60_000);
    await sendText(bob, 'Bob is back');
    await expectMessage(alice, 'Bob is back', 60_000);

    // The gap stays a gap, marked once; the earlier history is kept.
    await expectMessage(bob, 'Hello before the break');
    assert.equal(await log(bob).getByRole('article').filter({ hasText: 'Sent in the gap' }).count(), 0);
    assert.equal(await log(bob).getByText('Some messages could not be decrypted').count(), 1);

    // Healed for good: after a reload Bob's device still reads and writes the chat.
    await bob.page.reload();
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Welcome back, Bob');
    await sendText(alice, 'Still here after your reload?');
    await expectMessage(bob, 'Still here after your reload?', 60_000);
    assert.equal(await rejoining(bob).count(), 0);
  });
});
