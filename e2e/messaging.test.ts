/**
 * Everyday messaging in the web app, end to end: two or three real browser
 * profiles (each its own device, keys and IndexedDB) against a real `parley
 * serve`. Replies, reactions, edits, delete for everyone, receipts, typing,
 * disappearing messages, voice messages from Chromium's fake microphone,
 * media kept on the device, and a send whose reply was lost.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator } from 'playwright-core';
import { createClient, MemoryStore, type Message, type ParleyClient } from '@parley/client';
import { expectMessage, launchBrowser, openConversation, PASSWORD, register, sendText, startChat, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}` };
const IMAGE = readFileSync(new URL('../apps/web/public/icons/icon-192.png', import.meta.url));

function log(user: User): Locator {
  return user.page.getByRole('log', { name: 'Messages' });
}

/** The message (article) in the open conversation that contains `text`. */
function message(user: User, text: string | RegExp): Locator {
  return log(user).getByRole('article').filter({ hasText: text }).last();
}

/** The message containing `text` that is not a reply quoting it. */
function original(user: User, text: string): Locator {
  return log(user)
    .getByRole('article')
    .filter({ hasText: text })
    .filter({ hasNot: user.page.getByRole('button', { name: /^Reply to / }) });
}

/** Opens a message's actions menu and picks an item. */
async function messageAction(user: User, target: string | Locator, item: 'Reply' | 'React' | 'Edit' | 'Delete for everyone' | 'Info'): Promise<void> {
  const m = typeof target === 'string' ? message(user, target) : target.last();
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await user.page.getByRole('menu', { name: 'Message actions' }).getByRole('menuitem', { name: item }).click();
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

describe('everyday messaging in Chromium', { timeout: 900_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: User;
  let bob: User;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser({ fakeMedia: true });
    alice = await register(browser, server.url, names.alice);
    bob = await register(browser, server.url, names.bob);
    await startChat(alice, names.bob);
    await sendText(alice, 'Hi Bob, planning Saturday');
    await openConversation(bob, names.alice);
    await expectMessage(bob, 'Hi Bob, planning Saturday');
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('a reply quotes the original, the typing indicator shows, and a click on the quote scrolls back to it (also after older pages)', async () => {
    await sendText(bob, 'Where shall we meet?');
    await expectMessage(alice, 'Where shall we meet?');

    // Bob types: Alice sees it, live and never stored.
    await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('Let me thi');
    await alice.page.getByRole('status').filter({ hasText: `${names.bob} is typing…` }).waitFor({ timeout: 15_000 });
    await bob.page.getByRole('textbox', { name: 'Message' }).fill('');
    await alice.page.getByRole('status').filter({ hasText: 'is typing' }).waitFor({ state: 'detached', timeout: 15_000 });

    await messageAction(alice, original(alice, 'Where shall we meet?'), 'Reply');
    await alice.page.getByRole('status', { name: 'Replying' }).filter({ hasText: 'Where shall we meet?' }).waitFor();
    await sendText(alice, 'At the station, 9:00');
    await alice.page.getByRole('status', { name: 'Replying' }).waitFor({ state: 'detached' });
    await message(alice, 'At the station, 9:00').getByRole('button', { name: `Reply to ${names.bob}: Where shall we meet?. Go to the original message` }).waitFor({ timeout: 30_000 });
    await message(bob, 'At the station, 9:00').getByRole('button', { name: /^Reply to You: Where shall we meet\?/ }).waitFor({ timeout: 30_000 });

    // Far back: after 65 more messages Alice answers the first question again; a fresh load on
    // Bob's side holds only the newest page, so the quote's original is not there until clicked.
    for (let i = 1; i <= 65; i++) await sendText(bob, `filler ${i}`);
    await expectMessage(alice, 'filler 65');
    await alice.page.locator('.message-scroll').evaluate((el) => el.scrollTo({ top: 0 }));
    await messageAction(alice, original(alice, 'Where shall we meet?'), 'Reply');
    await sendText(alice, 'Answering the old question again');
    await expectMessage(bob, 'Answering the old question again');
    await bob.page.reload();
    await expectMessage(bob, 'Answering the old question again');
    assert.equal(await original(bob, 'Where shall we meet?').count(), 0);
    await message(bob, 'Answering the old question again').getByRole('button', { name: /^Reply to You: Where shall we meet\?/ }).click();
    await original(bob, 'Where shall we meet?').waitFor({ timeout: 20_000 });
    // Scrolled into view.
    await bob.page.waitForFunction(() => {
      const el = [...document.querySelectorAll('.message-row')].find((r) => r.textContent?.includes('Where shall we meet?') && r.querySelector('.reply-quote') === null);
      const box = document.querySelector('.message-scroll')?.getBoundingClientRect();
      const r = el?.getBoundingClientRect();
      return r !== undefined && box !== undefined && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    });
    // Back to the newest messages for what follows.
    await bob.page.locator('.message-scroll').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  });

  it('mute, pin and archive from the conversation list; archived chats behind "Archived"', async () => {
    await createGroup(alice, 'Book club', [names.bob]);
    const nav = alice.page.getByRole('navigation', { name: 'Conversations' });
    const options = async (title: string, item: string) => {
      await nav.getByRole('button', { name: `Options for ${title}` }).click();
      await alice.page.getByRole('menu', { name: `Options for ${title}` }).getByRole('menuitem', { name: item }).click();
    };
    const entry = (title: string) => nav.getByRole('button', { name: new RegExp(`^${title}`) });
    await options(names.bob, 'Mute');
    await nav.getByRole('button', { name: new RegExp(`^${names.bob}.*Muted`) }).waitFor({ timeout: 15_000 });
    await options(names.bob, 'Pin');
    await nav.getByRole('button', { name: new RegExp(`^${names.bob}.*Pinned`) }).waitFor({ timeout: 15_000 });
    // Pinned comes first although the group is newer.
    const titles = await nav.locator('.conversation-title').allTextContents();
    assert.equal(titles[0], names.bob);

    await options('Book club', 'Archive');
    await entry('Book club').waitFor({ state: 'detached', timeout: 15_000 });
    await nav.getByRole('button', { name: /^Archived/ }).click();
    await entry('Book club').waitFor();
    assert.equal(await entry(names.bob).count(), 0);
    await options('Book club', 'Unarchive');
    await nav.getByRole('button', { name: /^Archived/ }).waitFor({ state: 'detached', timeout: 15_000 });
    await entry('Book club').waitFor();

    await options(names.bob, 'Unmute');
    await options(names.bob, 'Unpin');
    await nav.getByRole('button', { name: new RegExp(`^${names.bob}.*(Muted|Pinned)`) }).waitFor({ state: 'detached', timeout: 15_000 });
    await openConversation(alice, names.bob);
  });

  it('reactions: common and typed emoji, counts, who reacted, and removing your own', async () => {
    await sendText(alice, 'Pizza after the hike?');
    await expectMessage(bob, 'Pizza after the hike?');
    await messageAction(bob, 'Pizza after the hike?', 'React');
    await bob.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'React with 👍' }).click();

    const chip = (user: User, emoji: string) => message(user, 'Pizza after the hike?').getByRole('list', { name: 'Reactions' }).getByRole('button', { name: new RegExp(`^${emoji}`) });
    await chip(alice, '👍').waitFor({ timeout: 30_000 });
    assert.match((await chip(alice, '👍').getAttribute('aria-label')) ?? '', new RegExp(`👍 1: ${names.bob}`));

    // Alice adds the same one by clicking the chip: two people, "2".
    await chip(alice, '👍').click();
    await message(bob, 'Pizza after the hike?').getByRole('button', { name: new RegExp(`^👍 2: (You, ${names.alice}|${names.alice}, You)`) }).waitFor({ timeout: 30_000 });

    // Any emoji, typed: Bob's one reaction changes from 👍 to 🦄.
    await messageAction(bob, 'Pizza after the hike?', 'React');
    const picker = bob.page.getByRole('dialog', { name: 'Choose a reaction' });
    await picker.getByLabel('Any emoji').fill('🦄');
    await picker.getByRole('button', { name: 'React', exact: true }).click();
    await chip(alice, '🦄').waitFor({ timeout: 30_000 });
    await message(alice, 'Pizza after the hike?').getByRole('button', { name: /^👍 1: You/ }).waitFor({ timeout: 30_000 });

    // A click on your own reaction removes it, on every device of both.
    await chip(bob, '🦄').click();
    await chip(alice, '🦄').waitFor({ state: 'detached', timeout: 30_000 });
    await chip(bob, '🦄').waitFor({ state: 'detached' });
  });

  it('edit: the new text on both sides, marked "edited"', async () => {
    await sendText(alice, 'Meet at 9:00 sharp');
    await expectMessage(bob, 'Meet at 9:00 sharp');
    await messageAction(alice, 'Meet at 9:00 sharp', 'Edit');
    const box = alice.page.getByRole('textbox', { name: 'Message' });
    // The composer takes the old text once the edit starts (a render after the menu closes).
    await until(async () => (await box.inputValue()) === 'Meet at 9:00 sharp', 'the composer holding the text to edit');
    await box.fill('Meet at 9:30 sharp');
    await box.press('Enter');
    await expectMessage(bob, 'Meet at 9:30 sharp');
    await message(bob, 'Meet at 9:30 sharp').getByText('edited').waitFor();
    await message(alice, 'Meet at 9:30 sharp').getByText('edited').waitFor({ timeout: 30_000 });
    assert.equal(await log(bob).getByText('Meet at 9:00 sharp').count(), 0);
    await until(async () => (await box.inputValue()) === '', 'the composer empty after the edit was sent');
  });

  it('delete for everyone: confirmed, then a placeholder on both sides', async () => {
    await sendText(alice, 'Oops, wrong chat: my PIN is 4711');
    await expectMessage(bob, 'my PIN is 4711');
    await messageAction(alice, 'my PIN is 4711', 'Delete for everyone');
    const confirm = alice.page.getByRole('dialog', { name: 'Delete for everyone?' });
    await confirm.getByRole('button', { name: 'Delete for everyone' }).click();
    await confirm.waitFor({ state: 'detached', timeout: 30_000 });
    await log(bob).getByText('This message was deleted').waitFor({ timeout: 30_000 });
    await log(alice).getByText('This message was deleted').waitFor({ timeout: 30_000 });
    assert.equal(await log(bob).getByText('4711').count(), 0);
    assert.equal(await log(alice).getByText('4711').count(), 0);
    // Deleted messages offer no actions.
    assert.equal(await message(bob, 'This message was deleted').getByRole('button', { name: 'Message actions' }).count(), 0);
  });

  it('read receipts in a group: "Read" once both others read it, "Read by 2 of 2" in the message info', async () => {
    const carol = await register(browser, server.url, names.carol);
    await createGroup(alice, 'Hiking club', [names.bob, names.carol]);
    await sendText(alice, 'Boots or trainers?');
    const mine = message(alice, 'Boots or trainers?');
    await mine.getByText(/^(Sent|Delivered)$/).waitFor({ timeout: 30_000 });
    await openConversation(bob, 'Hiking club');
    await expectMessage(bob, 'Boots or trainers?');
    // One of two read it: not "Read" yet.
    await alice.page.waitForTimeout(2500);
    assert.equal(await mine.getByText('Read', { exact: true }).count(), 0);
    await openConversation(carol, 'Hiking club');
    await expectMessage(carol, 'Boots or trainers?');
    await mine.getByText('Read', { exact: true }).waitFor({ timeout: 30_000 });

    await messageAction(alice, 'Boots or trainers?', 'Info');
    const info = alice.page.getByRole('dialog', { name: 'Message info' });
    await info.getByRole('heading', { name: 'Read by 2 of 2' }).waitFor({ timeout: 15_000 });
    const readers = info.getByRole('list', { name: 'Read by' });
    await readers.getByText(names.bob).waitFor();
    await readers.getByText(names.carol).waitFor();
    await alice.page.keyboard.press('Escape');

    // Carol turns read receipts off: her reading no longer shows, and she sees no "Read" either.
    await carol.page.getByRole('button', { name: 'Settings' }).click();
    const settings = carol.page.getByRole('dialog', { name: 'Settings' });
    const sw = settings.getByRole('switch', { name: 'Send read receipts' });
    // The switch shows the stored setting once it is read (on by default).
    await settings.getByRole('switch', { name: 'Send read receipts', checked: true }).waitFor({ timeout: 15_000 });
    await sw.click();
    await settings.getByRole('switch', { name: 'Send read receipts', checked: false }).waitFor({ timeout: 15_000 });
    await carol.page.keyboard.press('Escape');
    await sendText(bob, 'Trainers are fine');
    await expectMessage(alice, 'Trainers are fine');
    await expectMessage(carol, 'Trainers are fine');
    await message(alice, 'Trainers are fine').waitFor();
    await alice.page.waitForTimeout(3000);
    assert.equal(await message(bob, 'Trainers are fine').getByText('Read', { exact: true }).count(), 0);
    await carol.context.close();
  });

  it('a voice message recorded from the fake microphone plays on the other side', async () => {
    await openConversation(alice, names.bob);
    await openConversation(bob, names.alice);
    await alice.page.getByRole('button', { name: 'Record voice message' }).click();
    await alice.page.getByRole('status', { name: 'Recording voice message' }).waitFor();
    await alice.page.waitForTimeout(2200);
    await alice.page.getByRole('button', { name: 'Send' }).click();

    const voice = log(bob).getByRole('article').filter({ has: bob.page.getByRole('slider', { name: 'Playback position' }) }).last();
    await voice.waitFor({ timeout: 30_000 });
    const duration = await voice.locator('.voice-time').textContent();
    assert.match(duration ?? '', /^0:0[2-4]$/);
    // A waveform of up to 256 samples, not flat: the fake device plays a tone.
    const heights = await voice.locator('.waveform rect').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
    assert.ok(heights.length > 0 && heights.some((h) => h > 2), `a waveform with some loudness: ${heights.join(',')}`);
    await voice.getByRole('button', { name: 'Play voice message' }).click();
    await voice.getByRole('button', { name: 'Pause voice message' }).waitFor({ timeout: 15_000 });
    // It plays: the position moves (decrypted in the browser, played from an object URL).
    await voice.getByText(/^0:0\d \/ 0:0\d$/).waitFor({ timeout: 15_000 });

    // A cancelled recording sends nothing.
    const before = await log(bob).getByRole('button', { name: /Play voice message|Pause voice message/ }).count();
    await alice.page.getByRole('button', { name: 'Record voice message' }).click();
    await alice.page.waitForTimeout(600);
    await alice.page.getByRole('button', { name: 'Cancel recording' }).click();
    await alice.page.getByRole('button', { name: 'Record voice message' }).waitFor();
    await sendText(alice, 'no second voice message');
    await expectMessage(bob, 'no second voice message');
    assert.equal(await log(bob).getByRole('button', { name: /Play voice message|Pause voice message/ }).count(), before);
  });

  it('an image is still shown after a reload once the server deleted its blob (kept on the device)', async () => {
    await alice.page.getByLabel('Attach file').setInputFiles({ name: 'summit.png', mimeType: 'image/png', buffer: IMAGE });
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await log(bob).getByRole('img', { name: 'summit.png' }).waitFor({ timeout: 30_000 });
    await bob.page.waitForFunction(() => {
      const el = document.querySelector('img[alt="summit.png"]');
      return el instanceof HTMLImageElement && el.complete && el.naturalWidth === 192;
    });
    // Settings shows what is kept.
    await bob.page.getByRole('button', { name: 'Settings' }).click();
    const settings = bob.page.getByRole('dialog', { name: 'Settings' });
    await settings.getByText(/^\d+(\.\d)? (B|KB|MB) · \d+ files?$/).waitFor({ timeout: 15_000 });
    await bob.page.keyboard.press('Escape');

    // The server's copy goes (as its collection does once every device fetched it).
    const blobs = join(server.dataDir, 'blobs');
    const removed = removeFiles(blobs);
    assert.ok(removed > 0, 'the server stored the blob as a file');

    await bob.page.reload();
    await openConversation(bob, names.alice);
    await log(bob).getByRole('img', { name: 'summit.png' }).waitFor({ timeout: 30_000 });
    await bob.page.waitForFunction(() => {
      const el = document.querySelector('img[alt="summit.png"]');
      return el instanceof HTMLImageElement && el.complete && el.naturalWidth === 192;
    });
  });
});

describe('the browser and the Node SDK', { timeout: 300_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let sdk: ParleyClient | undefined;

  before(async () => {
    server = await TestServer.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await sdk?.close();
    await browser?.close();
    await server?.dispose();
  });

  it('replies, reactions, edits, deletes, receipts and a voice message go both ways', async () => {
    const sam = `sam${suffix}`;
    sdk = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
    await sdk.register(sam, PASSWORD);
    await sdk.whenSynced();
    const client = sdk;
    const fia = await register(browser, server.url, `fia${suffix}`);
    await startChat(fia, sam);
    const incoming = new Promise<Message>((resolve) => {
      client.on('message', (m) => {
        if (m.content.type === 'text' && m.content.text === 'Hello from the browser') resolve(m);
      });
    });
    await sendText(fia, 'Hello from the browser');
    const hello = await incoming;
    const conv = hello.conversationId;

    // Node → browser: a reply, a reaction.
    const reply = await client.send(conv, 'Hello from Node', { replyTo: { seq: hello.seq, id: hello.id } });
    await message(fia, 'Hello from Node').getByRole('button', { name: /^Reply to You: Hello from the browser/ }).waitFor({ timeout: 30_000 });
    await client.react(conv, { seq: hello.seq, id: hello.id }, '🎉');
    await original(fia, 'Hello from the browser').getByRole('button', { name: new RegExp(`^🎉 1: ${sam}`) }).waitFor({ timeout: 30_000 });

    // Browser → Node: a reaction, and the read receipt.
    await messageAction(fia, 'Hello from Node', 'React');
    await fia.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'React with 👍' }).click();
    await until(async () => (await client.message(conv, reply.seq))?.reactions.some((r) => r.emoji === '👍' && r.users.some((u) => u.username === fia.username)) === true, 'the SDK sees the reaction');
    await until(async () => (await client.message(conv, reply.seq))?.status === 'read', 'the SDK sees its message read');

    // Node edits, then deletes; the browser follows.
    await client.editMessage(conv, { seq: reply.seq, id: reply.id }, 'Hello from Node (edited)');
    await message(fia, 'Hello from Node (edited)').getByText('edited', { exact: true }).waitFor({ timeout: 30_000 });
    await client.deleteForEveryone(conv, { seq: reply.seq, id: reply.id });
    await log(fia).getByText('This message was deleted').waitFor({ timeout: 30_000 });
    assert.equal(await log(fia).getByText('Hello from Node').count(), 0);

    // A voice message from Node: the browser shows the player with its duration and waveform.
    const waveform = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
    await client.send(conv, { voice: new Uint8Array(2048).fill(1), mimeType: 'audio/ogg;codecs=opus', durationMs: 4200, waveform });
    const player = log(fia).getByRole('article').filter({ has: fia.page.getByRole('slider', { name: 'Playback position' }) });
    await player.getByText('0:04').waitFor({ timeout: 30_000 });
    assert.ok((await player.locator('.waveform rect').count()) > 0);

    // Browser edits its own message; Node stores the new text.
    await messageAction(fia, 'Hello from the browser', 'Edit');
    await fia.page.getByRole('textbox', { name: 'Message' }).fill('Hello from the browser, edited');
    await fia.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await until(async () => {
      const m = await client.message(conv, hello.seq);
      return m?.content.type === 'text' && m.content.text === 'Hello from the browser, edited' && m.editedAt !== null;
    }, 'the SDK sees the edit');
  });
});

describe('disappearing messages', { timeout: 300_000 }, () => {
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

  it('the shortest timer, announced in the chat, removes the message on both devices (test clock)', async () => {
    // Playwright's clock stands in for the pages' time (Date, timers), so 5 minutes pass in a moment.
    const clock = { beforeLoad: (c: BrowserContext) => c.clock.install() };
    const dan = await register(browser, server.url, `dan${suffix}`, clock);
    const eve = await register(browser, server.url, `eve${suffix}`, clock);
    await startChat(dan, eve.username);
    await sendText(dan, 'kept: sent before the timer');
    await openConversation(eve, dan.username);
    await expectMessage(eve, 'kept: sent before the timer');

    await dan.page.getByRole('button', { name: 'Conversation options' }).click();
    await dan.page.getByRole('menu', { name: 'Conversation options' }).getByRole('menuitem', { name: /^Disappearing messages/ }).click();
    const dialog = dan.page.getByRole('dialog', { name: 'Disappearing messages' });
    assert.equal(await dialog.getByRole('radio', { name: 'Off' }).isChecked(), true);
    await dialog.getByRole('radio', { name: '5 minutes' }).check();
    await dialog.waitFor({ state: 'detached', timeout: 30_000 });
    await log(dan).getByText('You set disappearing messages to 5 minutes').waitFor({ timeout: 30_000 });
    await log(eve).getByText(`${dan.username} set disappearing messages to 5 minutes`).waitFor({ timeout: 30_000 });

    await sendText(dan, 'gone in five minutes');
    await expectMessage(eve, 'gone in five minutes');
    await message(eve, 'gone in five minutes').getByText('Disappearing message').waitFor();
    await message(dan, 'gone in five minutes').getByText('Disappearing message').waitFor({ timeout: 30_000 });

    for (const u of [dan, eve]) await u.page.clock.fastForward('05:30');
    await message(eve, 'gone in five minutes').waitFor({ state: 'detached', timeout: 60_000 });
    await message(dan, 'gone in five minutes').waitFor({ state: 'detached', timeout: 60_000 });
    // What was sent before the timer stays; a reload does not bring the message back.
    await expectMessage(eve, 'kept: sent before the timer');
    await eve.page.reload();
    await expectMessage(eve, 'kept: sent before the timer');
    assert.equal(await log(eve).getByText('gone in five minutes').count(), 0);
  });
});

describe('a send whose reply was lost', { timeout: 300_000 }, () => {
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

  it('Retry yields exactly one message', async () => {
    const ws = new LossyWebSocket();
    const ann = await register(browser, server.url, `ann${suffix}`, { beforeLoad: (c) => ws.install(c) });
    const ben = await register(browser, server.url, `ben${suffix}`);
    await startChat(ann, ben.username);
    await sendText(ann, 'first, before the trouble');
    await openConversation(ben, ann.username);
    await expectMessage(ben, 'first, before the trouble');
    // Let receipts for what Ann has seen go out, so the next send is the message itself.
    await ann.page.waitForTimeout(2500);

    // The server stores the message, but its answer never reaches Ann: the connection drops first.
    ws.dropNextAnswer = true;
    await sendText(ann, 'sent once, answer lost');
    const failed = ann.page.getByRole('log', { name: 'Messages' }).getByText('Not sent');
    await failed.waitFor({ timeout: 30_000 });
    assert.ok(ws.dropped >= 1);
    await expectMessage(ben, 'sent once, answer lost');

    await ann.page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Connected' }).waitFor({ timeout: 60_000 });
    await ann.page.getByRole('button', { name: 'Retry' }).click();
    await failed.waitFor({ state: 'detached', timeout: 30_000 });
    await expectMessage(ann, 'sent once, answer lost');
    await sendText(ann, 'and after it');
    await expectMessage(ben, 'and after it');
    await ann.page.waitForTimeout(1000);
    assert.equal(await ben.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'sent once, answer lost' }).count(), 1);
    assert.equal(await ann.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'sent once, answer lost' }).count(), 1);
    // Also after a reload (from the store, not only what is on screen).
    await ann.page.reload();
    await expectMessage(ann, 'and after it');
    assert.equal(await ann.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'sent once, answer lost' }).count(), 1);
  });
});

/**
 * Sits between the page and the server's WebSocket (Playwright's
 * routeWebSocket, frames passed through unchanged) and, when armed, drops
 * the server's "ok" for the next message the page sends and closes the
 * connection: the message is stored, the sender never hears so.
 */
class LossyWebSocket {
  dropNextAnswer = false;
  dropped = 0;

  async install(context: BrowserContext): Promise<void> {
    await context.routeWebSocket(/\/v1\/ws/, (page) => {
      const server = page.connectToServer();
      const armedRids = new Set<number | string>();
      page.onMessage((m) => {
        const h = header(m);
        if (this.dropNextAnswer && h?.['t'] === 'send' && h['rid'] !== undefined) {
          armedRids.add(h['rid'] as number | string);
          this.dropNextAnswer = false;
        }
        server.send(m);
      });
      server.onMessage((m) => {
        const h = header(m);
        if (h?.['t'] === 'ok' && armedRids.has(h['rid'] as number | string)) {
          this.dropped++;
          armedRids.clear();
          void page.close({ code: 1012, reason: 'dropped by the test' });
          void server.close();
          return;
        }
        page.send(m);
      });
    });
  }
}

/** A frame's JSON header: format byte, 4-byte length, JSON (packages/protocol frames). */
function header(m: string | Buffer): Record<string, unknown> | null {
  if (typeof m === 'string') return null;
  const len = m.readUInt32BE(1);
  try {
    return JSON.parse(m.subarray(5, 5 + len).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Polls `check` until it is true (or fails with `what`). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Deletes every file under `dir` (not the folders); returns how many. */
function removeFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += removeFiles(p);
    else {
      rmSync(p);
      n++;
    }
  }
  return n;
}
