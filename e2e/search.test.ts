/**
 * Message search in the web app, in Chromium against a real `parley serve`:
 * a Node SDK user (the sender) seeds a 1:1 chat with messages in English,
 * Chinese, Japanese and Arabic and then ~180 more, so the searched ones are
 * far back in the history; the browser user searches from the conversation
 * list (all chats) and inside a conversation, opens results (click and
 * keyboard), and the app jumps to the message, loading the history around
 * it. Filters (from a person, in a conversation, attachments only), the empty
 * state, "More results", the `#/c/<id>/m/<seq>` route and phone width in the
 * dark theme are covered too. The pure helpers (route, snippet cutting) are
 * tested first, without a browser.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { createClient, MemoryStore, type Conversation, type GroupId, type ParleyClient } from '@parley/client';
import { parseRoute, routeHash } from '../apps/web/src/search/route.js';
import { snippetParts, snippetStillIn } from '../apps/web/src/search/snippet-parts.js';
import { expectMessage, launchBrowser, openConversation, PASSWORD, register, sendText, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

describe('search helpers', () => {
  it('reads and writes the conversation and message route', () => {
    const id = 'AbCdEfGh_-12345678' as GroupId;
    assert.deepEqual(parseRoute(routeHash(id)), { conversationId: id, seq: null });
    assert.deepEqual(parseRoute(routeHash(id, 187)), { conversationId: id, seq: 187 });
    assert.equal(routeHash(id, 5), `#/c/${id}/m/5`);
    for (const bad of ['', '#/c/short', `#/c/${id}/m/`, `#/c/${id}/m/-1`, `#/c/${id}/m/1.5`, `#/c/${id}/x/3`, `#/c/${id}/m/3/extra`, `#/c/${id}!`]) {
      assert.equal(parseRoute(bad), null, bad);
    }
  });

  it('cuts a snippet at its matches, ignoring ranges it cannot trust', () => {
    assert.deepEqual(snippetParts('我们明天在北京见面', [{ start: 5, end: 7 }]), [
      { text: '我们明天在', match: false },
      { text: '北京', match: true },
      { text: '见面', match: false },
    ]);
    // Out of order, overlapping, empty and out of bounds: the whole text still comes out once.
    const text = 'lunch and more lunch';
    const parts = snippetParts(text, [
      { start: 15, end: 99 },
      { start: 0, end: 5 },
      { start: 3, end: 8 },
      { start: 9, end: 9 },
    ]);
    assert.equal(parts.map((p) => p.text).join(''), text);
    assert.deepEqual(
      parts.filter((p) => p.match).map((p) => p.text),
      ['lunch', ' an', 'lunch'],
    );
    assert.deepEqual(snippetParts('no match', []), [{ text: 'no match', match: false }]);
  });

  it('tells whether a snippet still comes from an edited message', () => {
    const text = (t: string) => ({ content: { type: 'text', text: t } }) as Parameters<typeof snippetStillIn>[1];
    assert.equal(snippetStillIn('…the old lighthouse, bring…', text('The rendezvous is at the old lighthouse, bring a torch')), true);
    assert.equal(snippetStillIn('kiwi smoothie recipe', text('mango smoothie recipe')), false);
    const file = { content: { type: 'attachment', caption: 'menu for lunch', fileName: 'menu.txt' } } as Parameters<typeof snippetStillIn>[1];
    assert.equal(snippetStillIn('menu for lunch menu.txt', file), true);
  });
});

const suffix = Math.random().toString(36).slice(2, 7);

/** The searched messages, sent first (far back), with the word each is looked up by. */
const TARGETS = {
  english: { text: 'The rendezvous is at the old lighthouse, bring a torch', query: 'lightho' },
  chinese: { text: '我们明天在北京见面', query: '北京' },
  japanese: { text: '来週、東京駅で待ち合わせしましょう', query: '東京' },
  arabic: { text: 'سنلتقي في المكتبة غدا', query: 'المكتبة' },
} as const;
/** Messages after the targets: more than two pages (60 each) of history above the newest one. */
const FILLERS = 180;

function sidebarSearch(page: Page): Locator {
  return page.getByRole('search', { name: 'Search all chats' });
}

/** The result buttons under a search region (the sidebar's results live beside its search region, so the page is the scope there). */
function resultButtons(page: Page, within?: Locator): Locator {
  return (within ?? page.locator('.sidebar')).getByRole('list', { name: 'Search results' }).getByRole('button');
}

/** The search's status line when it says exactly `text` ("3 results", "No messages found"). */
function searchStatus(scope: Page | Locator, text: string): Locator {
  return scope.locator('.search-status').filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) });
}

/** The article of message `seq` in the open conversation. */
function article(page: Page, seq: number): Locator {
  return page.getByRole('log', { name: 'Messages' }).locator(`article[data-seq="${seq}"]`);
}

/** Waits until message `seq` is shown, inside the visible part of the history, and flashed. */
async function expectJumpedTo(page: Page, seq: number, text: string): Promise<void> {
  const a = article(page, seq);
  await a.filter({ hasText: text }).waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction(
    (s) => {
      const el = document.querySelector(`article[data-seq="${s}"]`);
      const scroller = el?.closest('.message-scroll');
      if (!(el instanceof HTMLElement) || !(scroller instanceof HTMLElement)) return false;
      const r = el.getBoundingClientRect();
      const v = scroller.getBoundingClientRect();
      return el.classList.contains('highlight') && r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
    },
    seq,
    { timeout: 10_000 },
  );
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('message search in Chromium', { timeout: 400_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let sam: ParleyClient | undefined;
  let fia: User;
  let direct: Conversation;
  let group: Conversation;
  const seqs = {} as Record<keyof typeof TARGETS, number>;

  before(async () => {
    // A few hundred sends in a row from one SDK user: no rate limits.
    server = await TestServer.start({ env: { PARLEY_RATE_LIMITS: 'off' } });
    browser = await launchBrowser();
  });

  after(async () => {
    await sam?.close();
    await browser?.close();
    await server?.dispose();
  });

  it('seeds a long 1:1 history and a group through the SDK', async () => {
    fia = await register(browser, server.url, `fia${suffix}`);
    sam = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0, receiptDelayMs: 60_000 });
    await sam.register(`sam${suffix}`, PASSWORD);
    await sam.whenSynced();
    direct = await sam.createConversation([fia.username]);
    for (const [key, t] of Object.entries(TARGETS) as [keyof typeof TARGETS, (typeof TARGETS)[keyof typeof TARGETS]][]) {
      seqs[key] = (await sam.send(direct.id, t.text)).seq;
    }
    for (let i = 1; i <= FILLERS; i++) await sam.send(direct.id, `filler number ${i}`);
    await sam.send(direct.id, 'lunch in the park on Friday?');

    await openConversation(fia, sam.username ?? '');
    await expectMessage(fia, 'lunch in the park on Friday?', 60_000);

    group = await sam.createConversation([fia.username], { title: 'Lunch club' });
    await sam.send(group.id, 'lunch at noon works for me');
    await sam.send(group.id, { attachment: new TextEncoder().encode('soup, bread'), mimeType: 'text/plain', fileName: 'menu.txt', caption: 'menu for lunch' });
    await openConversation(fia, 'Lunch club');
    await expectMessage(fia, 'menu for lunch');
    await sendText(fia, 'lunch tomorrow instead?');
    await until(async () => (await sam?.messages(group.id, { latest: true, limit: 5 }))?.some((m) => m.content.type === 'text' && m.content.text === 'lunch tomorrow instead?') === true, 'the group message from the browser');
  });

  it('finds English, Chinese, Japanese and Arabic messages from the list and jumps far back to each', async () => {
    const { page } = fia;
    // The 1:1 chat is open at its newest messages: the targets are far above, not loaded.
    await openConversation(fia, sam?.username ?? '');
    assert.equal(await article(page, seqs.chinese).count(), 0, 'far back: not loaded before the jump');

    const box = sidebarSearch(page).getByRole('searchbox', { name: 'Search messages' });
    for (const key of ['chinese', 'english', 'japanese', 'arabic'] as const) {
      const t = TARGETS[key];
      await box.fill(t.query);
      const hit = resultButtons(page).filter({ hasText: t.text.slice(-4) });
      await hit.first().waitFor({ timeout: 30_000 });
      assert.equal(await resultButtons(page).count(), 1, `${key}: exactly the one message`);
      const marks = await hit.locator('mark').allTextContents();
      assert.ok(
        marks.some((m) => m.toLowerCase().startsWith(t.query.toLowerCase())),
        `${key}: the match is highlighted (${marks.join('|')})`,
      );
      assert.equal(await hit.locator('.search-snippet').getAttribute('dir'), 'auto');
      assert.match((await hit.textContent()) ?? '', new RegExp(sam?.username ?? '-'), `${key}: names the sender`);
      if (key === 'japanese') {
        // Keyboard: from the box into the results, Enter opens the one focused.
        await box.press('ArrowDown');
        assert.equal(await hit.evaluate((el) => el === document.activeElement), true, 'ArrowDown focuses the first result');
        await page.keyboard.press('Enter');
      } else {
        await hit.click();
      }
      await expectJumpedTo(page, seqs[key], t.text);
      assert.equal(new URL(page.url()).hash, `#/c/${direct.id}/m/${seqs[key]}`);
      // A window far back: the way to the newest messages is offered, and nothing claims to be new.
      await page.getByRole('button', { name: 'Latest messages' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'New messages' }).count(), 0);
    }

    // The window far back leads back to the newest messages.
    await page.getByRole('button', { name: 'Latest messages' }).click();
    await expectMessage(fia, 'lunch in the park on Friday?');
    await page.getByRole('button', { name: 'Latest messages' }).waitFor({ state: 'detached' });

    // Nothing found: said so.
    await box.fill('xylophone');
    await searchStatus(page, 'No messages found').waitFor({ timeout: 30_000 });

    // Paging: the first 20, then more.
    await box.fill('filler');
    await searchStatus(page, '20+ results').waitFor({ timeout: 30_000 });
    assert.equal(await resultButtons(page).count(), 20);
    await resultButtons(page).first().filter({ hasText: `filler number ${FILLERS}` }).waitFor();
    await page.getByRole('button', { name: 'More results' }).click();
    await until(async () => (await resultButtons(page).count()) === 40, '40 results after "More results"');
    const texts = await resultButtons(page).locator('.search-snippet').allTextContents();
    assert.equal(new Set(texts).size, 40, 'no result twice');
    assert.ok(texts[39]?.includes(`filler number ${FILLERS - 39}`), `newest first, in order (${texts[39]})`);
  });

  it('filters by person, conversation and attachments', async () => {
    const { page } = fia;
    const region = sidebarSearch(page);
    await region.getByRole('searchbox', { name: 'Search messages' }).fill('lunch');
    await searchStatus(page, '4 results').waitFor({ timeout: 30_000 });

    const from = region.getByRole('combobox', { name: 'From' });
    await from.selectOption({ label: 'You' });
    await searchStatus(page, '1 result').waitFor({ timeout: 30_000 });
    await resultButtons(page).filter({ hasText: 'lunch tomorrow instead?' }).waitFor();

    await from.selectOption({ label: sam?.username ?? '' });
    await searchStatus(page, '3 results').waitFor({ timeout: 30_000 });

    await from.selectOption({ label: 'Anyone' });
    await region.getByRole('combobox', { name: 'In' }).selectOption({ label: 'Lunch club' });
    await searchStatus(page, '3 results').waitFor({ timeout: 30_000 });
    assert.equal(await resultButtons(page).filter({ hasText: 'lunch in the park' }).count(), 0, 'not from the 1:1 chat');

    await region.getByRole('checkbox', { name: 'Attachments only' }).check();
    await searchStatus(page, '1 result').waitFor({ timeout: 30_000 });
    await resultButtons(page).filter({ hasText: 'menu for lunch' }).waitFor();

    // Escape clears the search: the conversation list is back.
    await region.getByRole('searchbox', { name: 'Search messages' }).press('Escape');
    await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
    assert.equal(await region.getByRole('checkbox', { name: 'Attachments only' }).count(), 0, 'filters reset and hidden');
  });

  it('searches inside a conversation, scoped to it, and steps through the results', async () => {
    const { page } = fia;
    await openConversation(fia, 'Lunch club');
    await page.getByRole('button', { name: 'Search in conversation' }).click();
    const panel = page.getByRole('search', { name: 'Search in conversation' });
    const box = panel.getByRole('searchbox', { name: 'Search messages' });
    assert.equal(await box.evaluate((el) => el === document.activeElement), true, 'the box takes focus');
    await box.fill('lunch');
    const list = panel.getByRole('list', { name: 'Search results' }).getByRole('button');
    await searchStatus(panel, '3 results').waitFor({ timeout: 30_000 });
    assert.equal(await list.filter({ hasText: 'lunch in the park' }).count(), 0, 'only this conversation');
    const groupMessages = await sam?.messages(group.id, { latest: true, limit: 10 });
    const attachment = groupMessages?.find((m) => m.content.type === 'attachment');
    assert.ok(attachment !== undefined);

    await panel.getByRole('checkbox', { name: 'Attachments only' }).check();
    await searchStatus(panel, '1 result').waitFor({ timeout: 30_000 });
    await list.filter({ hasText: 'menu for lunch' }).click();
    await expectJumpedTo(page, attachment.seq, 'menu.txt');
    await panel.getByText('1 of 1').waitFor();

    await panel.getByRole('checkbox', { name: 'Attachments only' }).uncheck();
    await searchStatus(panel, '3 results').waitFor({ timeout: 30_000 });
    // The result opened stays the current one; Enter in the box opens the next (older) result, like a find bar.
    await panel.getByText('2 of 3').waitFor();
    await box.press('Enter');
    await panel.getByText('3 of 3').waitFor();
    assert.equal(await panel.getByRole('button', { name: 'Older result' }).isDisabled(), true, 'the oldest: no older one');
    await panel.getByRole('button', { name: 'Newer result' }).click();
    await panel.getByText('2 of 3').waitFor();
    await panel.getByRole('button', { name: 'Newer result' }).click();
    await panel.getByText('1 of 3').waitFor();
    await expectJumpedTo(page, (await sam?.messages(group.id, { latest: true, limit: 1 }))?.[0]?.seq ?? -1, 'lunch tomorrow instead?');

    await box.press('Escape');
    await box.press('Escape');
    await panel.waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('button', { name: 'Search in conversation' }).evaluate((el) => el === document.activeElement), true, 'focus back on the button');
  });

  it('opens a message link, and works at phone width in the dark theme', async () => {
    const { page } = fia;
    // A link to a message far back: a fresh start of the app goes straight there.
    await page.goto('about:blank');
    await page.goto(`${server.url}/#/c/${direct.id}/m/${seqs.arabic}`);
    await expectJumpedTo(page, seqs.arabic, TARGETS.arabic.text);
    // A link to a message this device does not have: said so, and the newest messages are shown.
    await page.goto('about:blank');
    await page.goto(`${server.url}/#/c/${direct.id}/m/99999`);
    await page.getByRole('alert').filter({ hasText: 'That message is no longer on this device.' }).waitFor({ timeout: 30_000 });
    await expectMessage(fia, 'lunch in the park on Friday?');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForFunction(() => document.documentElement.dataset['theme'] === 'dark');
    await page.getByRole('button', { name: 'Back' }).click();
    const box = sidebarSearch(page).getByRole('searchbox', { name: 'Search messages' });
    await box.fill(TARGETS.chinese.query);
    const hit = resultButtons(page).filter({ hasText: TARGETS.chinese.text });
    await hit.waitFor({ timeout: 30_000 });
    // Nothing sticks out sideways at this width.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no horizontal scroll');
    const mark = await hit.locator('mark').first().evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(mark, 'rgba(0, 0, 0, 0)', 'the match is visible in the dark theme');
    await hit.focus();
    await page.keyboard.press('Enter');
    await expectJumpedTo(page, seqs.chinese, TARGETS.chinese.text);
    // The list is hidden at this width: keyboard focus moved to the message.
    assert.equal(await article(page, seqs.chinese).evaluate((el) => el === document.activeElement), true, 'focus on the message');
    // A conversation's search on a phone: the results fold away once one is opened, and come back.
    await page.keyboard.press('Control+f');
    const panel = page.getByRole('search', { name: 'Search in conversation' });
    await panel.getByRole('searchbox', { name: 'Search messages' }).fill(TARGETS.japanese.query);
    await panel.getByRole('list', { name: 'Search results' }).getByRole('button').filter({ hasText: TARGETS.japanese.text }).click();
    await expectJumpedTo(page, seqs.japanese, TARGETS.japanese.text);
    assert.equal(await panel.getByRole('list', { name: 'Search results' }).count(), 0, 'folded: the history is visible');
    await panel.getByRole('button', { name: 'Show results' }).click();
    await panel.getByRole('list', { name: 'Search results' }).waitFor();
    await panel.getByRole('button', { name: 'Close search' }).click();

    // Back to the list: the search is still there, and keyboard focus is on the result that was opened.
    await page.getByRole('button', { name: 'Back' }).click();
    await hit.waitFor();
    await page.waitForFunction(() => document.activeElement?.matches('button.search-result[aria-current="true"]') === true, undefined, { timeout: 5_000 });
    assert.match((await page.evaluate(() => document.activeElement?.textContent)) ?? '', new RegExp(TARGETS.chinese.text));
  });

  it('follows edits and deletes of the messages it shows', async () => {
    const { page } = fia;
    const client = sam;
    assert.ok(client !== undefined);
    const smoothie = await client.send(direct.id, 'kiwi smoothie recipe');
    const tart = await client.send(direct.id, 'kiwi tart recipe');
    const box = sidebarSearch(page).getByRole('searchbox', { name: 'Search messages' });
    await box.fill('kiwi');
    // Asked again (Enter) until both have arrived on this device.
    await until(async () => {
      await box.press('Enter');
      return (await searchStatus(page, '2 results').count()) === 1;
    }, 'both kiwi messages found');
    await client.editMessage(direct.id, { seq: smoothie.seq, id: smoothie.id }, 'mango smoothie recipe');
    await searchStatus(page, '1 result').waitFor({ timeout: 30_000 });
    assert.equal(await resultButtons(page).filter({ hasText: 'smoothie' }).count(), 0, 'the edited one no longer matches');
    await client.deleteForEveryone(direct.id, { seq: tart.seq, id: tart.id });
    await resultButtons(page).waitFor({ state: 'detached', timeout: 30_000 });
    await box.fill('');
  });

  it('waits for an input method to finish composing before it searches', async () => {
    const { page } = fia;
    const box = sidebarSearch(page).getByRole('searchbox', { name: 'Search messages' });
    await box.fill('');
    await box.focus();
    // Pinyin being composed is not what the person means yet: nothing is searched, Enter belongs to the input method.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Input.imeSetComposition', { text: 'beijing', selectionStart: 7, selectionEnd: 7 });
    assert.equal(await box.inputValue(), 'beijing');
    await page.waitForTimeout(500);
    assert.equal(await page.locator('.sidebar .search-status').textContent(), '', 'no search while composing');
    assert.equal(await resultButtons(page).count(), 0);
    await cdp.send('Input.insertText', { text: '北京' });
    assert.equal(await box.inputValue(), '北京');
    await resultButtons(page).filter({ hasText: TARGETS.chinese.text }).waitFor({ timeout: 30_000 });
    await cdp.detach();
  });

  it('opens a result from a message request at the message, far back, still a request', async () => {
    const { page } = fia;
    await page.setViewportSize({ width: 1280, height: 800 });
    const rex = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
    try {
      await rex.register(`rex${suffix}`, PASSWORD);
      await rex.whenSynced();
      // A stranger: fia has not accepted, so this stays a request; the searched message is far back.
      const chat = await rex.createConversation([fia.username]);
      const first = await rex.send(chat.id, 'the harbour ferry leaves at dawn');
      for (let i = 1; i <= 130; i++) await rex.send(chat.id, `request filler ${i}`);
      const box = sidebarSearch(page).getByRole('searchbox', { name: 'Search messages' });
      await box.fill('harbour');
      const hit = resultButtons(page).filter({ hasText: 'ferry leaves at dawn' });
      await hit.first().waitFor({ timeout: 60_000 });
      await hit.first().click();
      await page.getByRole('group', { name: 'Answer the request' }).waitFor({ timeout: 30_000 });
      await expectJumpedTo(page, first.seq, 'the harbour ferry leaves at dawn');
      assert.equal(new URL(page.url()).hash, `#/c/${chat.id}/m/${first.seq}`);
      // Opening it answered nothing: still a request, and the sender learnt nothing.
      assert.equal((await rex.messages(chat.id)).find((m) => m.seq === first.seq)?.status === 'read', false);
    } finally {
      await rex.close();
    }
  });
});
