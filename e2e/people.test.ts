/**
 * People in the web app, end to end: real browser profiles (each its own
 * device, keys and IndexedDB) against a real `parley serve`. Encrypted
 * profiles (display names and pictures seen by the other side in the list,
 * the header and the group members), message requests (a stranger's chat
 * lands in Requests, reading it tells the stranger nothing, Accept moves it
 * to the list) and blocking (the blocked user's further messages and group
 * invitations never show).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { closeSettings, expectMessage, launchBrowser, openConversation, openRequests, register, sendText, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}`, dave: `dave${suffix}` };
const ALICE = 'Alice Liddell';
const BOB = 'Bob Builder';

function conversations(user: User): Locator {
  return user.page.getByRole('navigation', { name: 'Conversations' });
}

function entry(user: User, title: string): Locator {
  return conversations(user).getByRole('button', { name: new RegExp(`^${title}`) });
}

function requestsButton(user: User): Locator {
  return user.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: /^Requests/ });
}

/** A large picture (PNG) drawn in the page, so the app has something to scale down. */
async function bigPicture(page: Page, hue: number): Promise<Buffer> {
  const dataUrl = await page.evaluate((h) => {
    const c = document.createElement('canvas');
    c.width = 1200;
    c.height = 900;
    const ctx = c.getContext('2d');
    if (ctx === null) throw new Error('no canvas');
    ctx.fillStyle = `hsl(${h} 70% 55%)`;
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(600, 450, 300, 0, Math.PI * 2);
    ctx.fill();
    return c.toDataURL('image/png');
  }, hue);
  return Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
}

/** Settings → profile: display name, about and a picture, saved. */
async function setProfile(user: User, displayName: string, about: string, picture: Buffer): Promise<void> {
  await user.page.getByRole('button', { name: 'Settings' }).click();
  const settings = user.page.getByRole('dialog', { name: 'Settings' });
  await settings.getByLabel('Display name').fill(displayName);
  await settings.getByLabel('About').fill(about);
  const [chooser] = await Promise.all([user.page.waitForEvent('filechooser'), settings.getByRole('button', { name: 'Change picture' }).click()]);
  await chooser.setFiles({ name: 'me.png', mimeType: 'image/png', buffer: picture });
  // The scaled-down preview is shown before saving.
  await settings.locator('.contact-head .avatar img').waitFor();
  await settings.getByRole('button', { name: 'Save profile' }).click();
  await settings.getByRole('status').filter({ hasText: 'Profile saved' }).waitFor({ timeout: 30_000 });
  await closeSettings(user);
  // The own name and picture in the sidebar.
  await user.page.getByRole('button', { name: 'Settings' }).filter({ hasText: displayName }).locator('.avatar img').waitFor({ timeout: 15_000 });
}

/** The picture an avatar inside `scope` shows, once it has loaded: its natural size. */
async function avatarPicture(scope: Locator): Promise<{ width: number; height: number }> {
  const img = scope.locator('.avatar img').first();
  await img.waitFor({ timeout: 30_000 });
  await img.evaluate((el: HTMLImageElement) => (el.complete ? undefined : new Promise((resolve) => el.addEventListener('load', resolve, { once: true }))));
  return img.evaluate((el: HTMLImageElement) => ({ width: el.naturalWidth, height: el.naturalHeight }));
}

async function startChatWith(user: User, username: string): Promise<void> {
  await user.page.getByRole('button', { name: 'New chat' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Username').fill(username);
  await dialog.getByRole('button', { name: 'Start chat' }).click();
  await dialog.waitFor({ state: 'detached', timeout: 30_000 });
  await user.page.getByRole('textbox', { name: 'Message' }).waitFor();
}

async function createGroup(user: User, title: string, members: readonly string[]): Promise<void> {
  await user.page.getByRole('button', { name: 'New group' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Group name').fill(title);
  for (const n of members) {
    await dialog.getByLabel('Add member').fill(n);
    await dialog.getByRole('button', { name: 'Add member' }).click();
    await dialog.getByRole('list', { name: 'People to add' }).getByText(n).waitFor();
  }
  await dialog.getByRole('button', { name: 'Create group' }).click();
  await user.page.getByRole('heading', { level: 2, name: title }).waitFor({ timeout: 30_000 });
}

/** Waits until the user's own message containing `text` is stored on the server (its "Sent" tick or better). */
async function expectSent(user: User, text: string): Promise<void> {
  await user.page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: 'You' }).filter({ hasText: text }).locator('.status').first().waitFor({ timeout: 30_000 });
}

describe('people in Chromium: profiles, requests, blocking', { timeout: 900_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser();
    alice = await register(browser, server.url, names.alice);
    bob = await register(browser, server.url, names.bob);
    carol = await register(browser, server.url, names.carol);
    dave = await register(browser, server.url, names.dave);
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('two users set names and pictures and see each other’s in the list, the header and the group members', async () => {
    // A file that is no picture is refused in the browser, before anything is uploaded.
    await alice.page.getByRole('button', { name: 'Settings' }).click();
    const settings = alice.page.getByRole('dialog', { name: 'Settings' });
    const [chooser] = await Promise.all([alice.page.waitForEvent('filechooser'), settings.getByRole('button', { name: 'Change picture' }).click()]);
    await chooser.setFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
    await settings.getByRole('alert').filter({ hasText: 'not a picture' }).waitFor();
    assert.equal(await settings.locator('.contact-head .avatar img').count(), 0);
    await closeSettings(alice);

    await setProfile(alice, ALICE, 'Down the rabbit hole', await bigPicture(alice.page, 20));
    await setProfile(bob, BOB, 'Can we fix it?', await bigPicture(bob.page, 200));

    // Bob adds Alice as a contact by her username, so her chat is not a request for him.
    await bob.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
    await bob.page.getByRole('dialog', { name: 'Contacts' }).getByRole('button', { name: 'Add contact' }).click();
    const add = bob.page.getByRole('dialog', { name: 'Add contact' });
    await add.getByLabel('Username').fill(names.alice);
    await add.getByRole('button', { name: 'Add contact' }).click();
    await bob.page.getByRole('dialog', { name: 'Contacts' }).getByRole('list', { name: 'Contacts' }).getByText(names.alice).waitFor({ timeout: 30_000 });
    await bob.page.keyboard.press('Escape');

    await startChatWith(alice, names.bob);
    await sendText(alice, 'Hello Bob');

    // Bob: Alice's chat is in his list (not a request), under her name, with her picture, scaled to 512 px.
    await entry(bob, ALICE).waitFor({ timeout: 60_000 });
    assert.deepEqual(await avatarPicture(entry(bob, ALICE)), { width: 512, height: 384 });
    await entry(bob, ALICE).click();
    await bob.page.getByRole('heading', { level: 2, name: ALICE }).waitFor();
    await expectMessage(bob, 'Hello Bob');
    // The header keeps her username visible under the name.
    await bob.page.locator('.conversation-header').getByText(names.alice).waitFor();
    await avatarPicture(bob.page.locator('.conversation-header'));

    // Alice sees Bob's name and picture in her list and the header.
    await entry(alice, BOB).waitFor({ timeout: 60_000 });
    assert.deepEqual(await avatarPicture(entry(alice, BOB)), { width: 512, height: 384 });
    await alice.page.getByRole('heading', { level: 2, name: BOB }).waitFor({ timeout: 30_000 });
    await avatarPicture(alice.page.locator('.conversation-header'));

    // A group: the members are listed by name, with their pictures and usernames.
    await createGroup(alice, 'Tea party', [names.bob]);
    await sendText(alice, 'Tea at four');
    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    const members = alice.page.getByRole('dialog', { name: 'Group info' }).getByRole('list', { name: 'Members' });
    const bobMember = members.getByRole('listitem').filter({ hasText: BOB });
    await bobMember.getByText(names.bob).waitFor({ timeout: 30_000 });
    await avatarPicture(bobMember);
    await alice.page.keyboard.press('Escape');

    await openConversation(bob, 'Tea party');
    await expectMessage(bob, 'Tea at four');
    // The sender of a group message is named by her display name.
    await bob.page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: ALICE }).filter({ hasText: 'Tea at four' }).waitFor();
    await bob.page.getByRole('button', { name: 'Conversation info' }).click();
    const bobsView = bob.page.getByRole('dialog', { name: 'Group info' }).getByRole('list', { name: 'Members' });
    await avatarPicture(bobsView.getByRole('listitem').filter({ hasText: ALICE }));
    await bob.page.keyboard.press('Escape');
  });

  it('a stranger’s message lands in Requests, reading it tells the stranger nothing, and Accept moves it to the list', async () => {
    await startChatWith(carol, names.bob);
    await sendText(carol, 'Hi, I am Carol');
    await expectSent(carol, 'Hi, I am Carol');

    // Bob: a request, not a chat.
    await requestsButton(bob).filter({ hasText: '1' }).waitFor({ timeout: 60_000 });
    const requests = await openRequests(bob);
    const request = requests.getByRole('button', { name: new RegExp(names.carol) });
    await request.waitFor();
    await request.getByText('Hi, I am Carol').waitFor();
    assert.equal(await entry(bob, names.carol).count(), 0, 'the request is not in the chat list');
    await request.click();
    await bob.page.getByRole('region', { name: `Request from ${names.carol}` }).getByText(names.carol).first().waitFor();
    await expectMessage(bob, 'Hi, I am Carol');
    // Read on Bob's device: the unread mark goes away.
    await request.getByText('unread').waitFor({ state: 'detached', timeout: 30_000 });

    // Carol writes again. A pending request sends no receipt at all: her messages stay "Sent"
    // (neither delivered nor read) although Bob's device stored and read them.
    await sendText(carol, 'Are you there?');
    await expectMessage(bob, 'Are you there?');
    const carolMessage = (text: string) => carol.page.getByRole('log', { name: 'Messages' }).getByRole('article', { name: 'You' }).filter({ hasText: text });
    for (const text of ['Hi, I am Carol', 'Are you there?']) {
      assert.equal(await carolMessage(text).locator('.status.read').count(), 0, 'no read receipt for a request');
      assert.equal(await carolMessage(text).locator('.status.delivered').count(), 0, 'no delivery receipt for a request');
    }
    // Nor Bob's profile: Carol still sees his username.
    await carol.page.getByRole('heading', { level: 2, name: names.bob }).waitFor();

    // Accept: it becomes an ordinary chat in the list, Carol a contact, and Bob can answer.
    await bob.page.getByRole('group', { name: 'Answer the request' }).getByRole('button', { name: 'Accept' }).click();
    await bob.page.getByRole('textbox', { name: 'Message' }).waitFor({ timeout: 30_000 });
    await entry(bob, names.carol).waitFor({ timeout: 30_000 });
    await requestsButton(bob).filter({ hasText: /\d/ }).waitFor({ state: 'detached' });
    // The receipt held back goes now: what Bob read shows as read on Carol's side.
    await carolMessage('Hi, I am Carol').locator('.status.read').waitFor({ timeout: 30_000 });
    await sendText(bob, 'Hi Carol, welcome');
    await expectMessage(carol, 'Hi Carol, welcome');
    // Carol now gets Bob's profile: his name replaces the username in her header.
    await carol.page.getByRole('heading', { level: 2, name: BOB }).waitFor({ timeout: 60_000 });

    // Accepting made Carol a contact; a nickname Bob gives her is what he sees from then on.
    await bob.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
    const contacts = bob.page.getByRole('dialog', { name: 'Contacts' });
    await contacts.getByRole('button', { name: `Nickname for ${names.carol}` }).click();
    const nickname = bob.page.getByRole('dialog', { name: 'Nickname' });
    await nickname.getByLabel('Nickname').fill('Carol from the café');
    await nickname.getByRole('button', { name: 'Save' }).click();
    await contacts.getByRole('list', { name: 'Contacts' }).getByText('Carol from the café').waitFor({ timeout: 30_000 });
    await bob.page.keyboard.press('Escape');
    await entry(bob, 'Carol from the café').waitFor();
    await bob.page.getByRole('heading', { level: 2, name: 'Carol from the café' }).waitFor();

    // Removed from the contacts, she is her username again; contact info offers "Add contact".
    await bob.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
    await contacts.getByRole('button', { name: 'Remove Carol from the café from contacts' }).click();
    await contacts.getByRole('list', { name: 'Contacts' }).getByText(names.carol).waitFor({ state: 'detached', timeout: 30_000 });
    await bob.page.keyboard.press('Escape');
    await bob.page.getByRole('heading', { level: 2, name: names.carol }).waitFor({ timeout: 30_000 });
    await bob.page.getByRole('button', { name: 'Conversation info' }).click();
    const info = bob.page.getByRole('dialog', { name: 'Contact info' });
    await info.getByText(`Username: ${names.carol}`).waitFor();
    await info.getByRole('button', { name: 'Add contact' }).click();
    await info.getByText('In your contacts').waitFor({ timeout: 30_000 });
    await bob.page.keyboard.press('Escape');
  });

  it('a blocked user’s further messages and group invitations do not appear', async () => {
    await startChatWith(dave, names.bob);
    await sendText(dave, 'Buy my stuff');
    await expectSent(dave, 'Buy my stuff');

    const requests = await openRequests(bob);
    await requests.getByRole('button', { name: new RegExp(names.dave) }).click({ timeout: 60_000 });
    await expectMessage(bob, 'Buy my stuff');
    await bob.page.getByRole('group', { name: 'Answer the request' }).getByRole('button', { name: 'Block' }).click();
    const confirm = bob.page.getByRole('dialog', { name: `Block ${names.dave}?` });
    await confirm.getByRole('button', { name: 'Block' }).click();
    await confirm.waitFor({ state: 'detached', timeout: 30_000 });
    await requests.getByRole('button', { name: new RegExp(names.dave) }).waitFor({ state: 'detached', timeout: 30_000 });
    await requests.getByRole('button', { name: 'Back to chats' }).click();

    // Settings lists him as blocked.
    await bob.page.getByRole('button', { name: 'Settings' }).click();
    await bob.page.getByRole('dialog', { name: 'Settings' }).getByRole('list', { name: 'Blocked users' }).getByText(names.dave).waitFor({ timeout: 30_000 });
    await closeSettings(bob);

    // Dave writes again, and puts Bob (and Alice) in a group.
    await sendText(dave, 'Are you ignoring me?');
    await expectSent(dave, 'Are you ignoring me?');
    await createGroup(dave, 'Bargain club', [names.bob, names.alice]);
    await sendText(dave, 'Welcome to the club');
    await expectSent(dave, 'Welcome to the club');
    // Alice (no block) gets the invitation as a request: the group was made.
    await requestsButton(alice).filter({ hasText: /\d/ }).waitFor({ timeout: 60_000 });
    const aliceRequests = await openRequests(alice);
    await aliceRequests.getByRole('button', { name: /^Bargain club/ }).waitFor({ timeout: 30_000 });
    await aliceRequests.getByRole('button', { name: 'Back to chats' }).click();

    // Then Alice writes to Bob: once that is on his screen, what Dave sent before has been handled by his device.
    await openConversation(alice, BOB);
    await sendText(alice, 'After the block');
    await openConversation(bob, ALICE);
    await expectMessage(bob, 'After the block');
    const shown = await openRequests(bob);
    assert.equal(await requestsButton(bob).filter({ hasText: /\d/ }).count(), 0, `no new request: ${(await shown.allTextContents()).join(' | ')}`);
    assert.equal(await shown.getByRole('button', { name: new RegExp(`${names.dave}|Bargain club`) }).count(), 0);
    await shown.getByRole('button', { name: 'Back to chats' }).click();
    assert.equal(await entry(bob, 'Bargain club').count(), 0);
    assert.equal(await conversations(bob).getByText(names.dave).count(), 0);
    assert.equal(await conversations(bob).getByText(/Are you ignoring me|Welcome to the club/).count(), 0);

    // Unblock from Settings.
    await bob.page.getByRole('button', { name: 'Settings' }).click();
    const settings = bob.page.getByRole('dialog', { name: 'Settings' });
    await settings.getByRole('button', { name: `Unblock ${names.dave}` }).click();
    await settings.getByRole('list', { name: 'Blocked users' }).waitFor({ state: 'detached', timeout: 30_000 });
    await closeSettings(bob);

    // Dave shows his contact code; Bob adds him by it (the code names the account, and the client checks it).
    await dave.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
    await dave.page.getByRole('dialog', { name: 'Contacts' }).getByRole('button', { name: 'My code' }).click();
    const myCode = dave.page.getByRole('dialog', { name: 'My code' });
    await myCode.getByRole('img', { name: 'My contact code' }).waitFor();
    const code = await myCode.getByLabel('Contact code', { exact: true }).textContent();
    assert.ok(code !== null && code.includes(names.dave));
    await bob.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
    await bob.page.getByRole('dialog', { name: 'Contacts' }).getByRole('button', { name: 'Add contact' }).click();
    const add = bob.page.getByRole('dialog', { name: 'Add contact' });
    // A code whose account id does not match its username is refused.
    await add.getByLabel('Username or contact code').fill(code.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    await add.getByRole('button', { name: 'Add contact' }).click();
    await add.getByRole('alert').waitFor({ timeout: 30_000 });
    await add.getByLabel('Username or contact code').fill(code);
    await add.getByRole('button', { name: 'Add contact' }).click();
    await bob.page.getByRole('dialog', { name: 'Contacts' }).getByRole('list', { name: 'Contacts' }).getByText(names.dave).waitFor({ timeout: 30_000 });
    await bob.page.keyboard.press('Escape');
  });
});
