/**
 * Moments in the web app, end to end: four real browser profiles (each its
 * own device, keys and IndexedDB) against a real `parley serve`. Alice is
 * friends (mutual contacts) with Bob and with Carol; Bob and Carol are not
 * contacts; Dave is nobody's. Alice posts text and two photos; Bob sees it,
 * likes and comments; Alice replies; Carol sees the post and Alice's reply
 * but never Bob's comment or like; Dave never gets anything; Alice deletes
 * it and it goes from Bob's and Carol's screens; a post to the list "Close
 * friends" (only Bob) reaches Bob and not Carol. First, the app's pure
 * helpers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { MOMENT_WINDOWS } from '@parley/client';
import { audienceLine, safeHref, splitLinks, timeAgo } from '../apps/web/src/moments/format.js';
import { photoProblem, tooManyPhotos, WINDOW_OPTIONS } from '../apps/web/src/moments/limits.js';

import { launchBrowser, openConversation, register, sendText, startChat, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

describe('web Moments helpers', () => {
  it('offers exactly the schema’s visibility windows', () => {
    assert.deepEqual(
      WINDOW_OPTIONS.map((o) => o.value),
      [...MOMENT_WINDOWS],
    );
  });

  it('makes only http and https links clickable', () => {
    assert.deepEqual(splitLinks('see https://example.org/a?b=1. and javascript:alert(1) or http://x.test'), [
      { text: 'see ', href: null },
      { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { text: '. and javascript:alert(1) or ', href: null },
      { text: 'http://x.test', href: 'http://x.test/' },
    ]);
    assert.equal(safeHref('javascript:alert(1)'), null);
    assert.equal(safeHref('data:text/html,hi'), null);
    assert.equal(safeHref('not a url'), null);
    assert.deepEqual(splitLinks('no links here'), [{ text: 'no links here', href: null }]);
  });

  it('refuses too many photos and files that are no photos or far too large, before anything is read', () => {
    assert.equal(tooManyPhotos(7, 2), null);
    assert.match(tooManyPhotos(7, 3) ?? '', /at most 9 photos/);
    assert.equal(photoProblem({ name: 'a.jpg', size: 1000, type: 'image/jpeg' }), null);
    assert.match(photoProblem({ name: 'a.pdf', size: 1000, type: 'application/pdf' }) ?? '', /not a photo/);
    assert.match(photoProblem({ name: 'huge.png', size: 100 * 1024 * 1024, type: 'image/png' }) ?? '', /too large/);
  });

  it('names audiences and times in words', () => {
    const lists = [{ id: 'l1', name: 'Close friends', members: [], updatedAt: 0 }];
    assert.equal(audienceLine({ kind: 'friends' }, lists), 'All friends');
    assert.equal(audienceLine({ kind: 'lists', lists: ['l1'] }, lists), 'Close friends');
    assert.equal(audienceLine({ kind: 'except', lists: ['l1', 'gone'] }, lists), 'All except Close friends, a deleted list');
    assert.equal(audienceLine(null, lists), null);
    const now = Date.UTC(2026, 0, 10, 12);
    assert.equal(timeAgo(now - 5_000, now), 'just now');
    assert.match(timeAgo(now - 5 * 60_000, now), /5/);
  });
});

const suffix = Math.random().toString(36).slice(2, 7);
const names = { alice: `alice${suffix}`, bob: `bob${suffix}`, carol: `carol${suffix}`, dave: `dave${suffix}` };
const POST = 'Sunrise at the lighthouse — more at https://example.org/trip';
const BOB_COMMENT = 'Stunning colours, Bob was here';
const ALICE_REPLY = 'Thanks! Up at five for it';
const CLOSE = 'Only for close friends: the surprise party is on Saturday';
const LATER = 'A later post for everyone';

/** A large photo (PNG) drawn in the page, so the app has something to scale and thumbnail. */
async function drawPhoto(page: Page, hue: number, width = 1600, height = 1200): Promise<Buffer> {
  const dataUrl = await page.evaluate(
    ([h, w, ht]) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = ht;
      const ctx = c.getContext('2d');
      if (ctx === null) throw new Error('no canvas');
      const g = ctx.createLinearGradient(0, 0, w, ht);
      g.addColorStop(0, `hsl(${h} 80% 65%)`);
      g.addColorStop(1, `hsl(${(h + 60) % 360} 70% 35%)`);
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, w, ht);
      ctx.fillStyle = '#fff';
      ctx.beginPath();
      ctx.arc(w / 2, ht / 2, ht / 4, 0, Math.PI * 2);
      ctx.fill();
      return c.toDataURL('image/png');
    },
    [hue, width, height] as const,
  );
  return Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
}

/** Opens the Moments tab from the sidebar; resolves once the timeline is there. */
async function openMoments(user: User): Promise<void> {
  await user.page.getByRole('navigation', { name: 'Moments' }).getByRole('button', { name: /^Moments/ }).click();
  await user.page.getByRole('heading', { level: 2, name: 'Moments' }).waitFor({ timeout: 10_000 });
  await user.page.getByRole('feed', { name: 'Timeline' }).waitFor({ state: 'attached', timeout: 30_000 });
}

function timeline(user: User): Locator {
  return user.page.getByRole('feed', { name: 'Timeline' });
}

/** The post in the user's timeline whose text contains `text`. */
function post(user: User, text: string): Locator {
  return timeline(user).getByRole('article').filter({ hasText: text });
}

/** Opens "New post" and waits until the audience "All friends" counts `friends` (the friendship handshakes are done). */
async function openComposer(user: User, friends: number): Promise<Locator> {
  await user.page.getByRole('button', { name: 'New post' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New post' });
  await dialog.getByRole('radio', { name: `All friends (${friends})` }).waitFor({ timeout: 90_000 });
  return dialog;
}

async function comment(p: Locator, text: string): Promise<void> {
  const box = p.getByRole('textbox', { name: 'Write a comment' });
  if (!(await box.isVisible())) await p.getByRole('button', { name: 'Comment', exact: true }).click();
  await box.fill(text);
  await box.press('Enter');
  await box.waitFor({ state: 'detached', timeout: 30_000 });
}

/** Makes two users contacts of each other: one starts a chat, the other accepts the request. */
async function befriend(a: User, b: User): Promise<void> {
  await startChat(a, b.username);
  await sendText(a, `Hi ${b.username}`);
  await openConversation(b, a.username);
}

describe('Moments in Chromium: posts, likes, comments and who sees them', { timeout: 900_000 }, () => {
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
    await befriend(alice, bob);
    await befriend(alice, carol);
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('Alice posts text and two photos; Bob likes and comments; Carol sees Alice’s reply but never Bob’s comment or like; Dave gets nothing', async () => {
    await openMoments(alice);
    const composer = await openComposer(alice, 2);
    // Ten photos are refused in the browser, before anything is read or uploaded.
    const small = await drawPhoto(alice.page, 10, 64, 48);
    await composer.getByLabel('Choose photos').setInputFiles(Array.from({ length: 10 }, (_, i) => ({ name: `p${i}.png`, mimeType: 'image/png', buffer: small })));
    await composer.getByRole('alert').filter({ hasText: 'at most 9 photos' }).waitFor();
    assert.equal(await composer.getByRole('list', { name: 'Photos to post' }).getByRole('img').count(), 0);
    // So is a file that is no picture.
    await composer.getByLabel('Choose photos').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
    await composer.getByRole('alert').filter({ hasText: 'notes.png' }).waitFor();

    await composer.getByRole('textbox', { name: "What's on your mind" }).fill(POST);
    await composer.getByLabel('Location (optional)').fill('Cabo da Roca');
    await composer.getByLabel('Choose photos').setInputFiles([
      { name: 'sunrise.png', mimeType: 'image/png', buffer: await drawPhoto(alice.page, 20) },
      { name: 'sea.png', mimeType: 'image/png', buffer: await drawPhoto(alice.page, 200, 2400, 1800) },
    ]);
    await composer.getByRole('list', { name: 'Photos to post' }).getByRole('img', { name: 'sea.png' }).waitFor();
    await composer.getByRole('button', { name: 'Post', exact: true }).click();
    await composer.waitFor({ state: 'detached', timeout: 60_000 });
    await post(alice, POST).waitFor({ timeout: 30_000 });

    // Bob: the post, its link (safe), location and two thumbnails; the full photo opens scaled to at most 2048 px.
    await openMoments(bob);
    const bobsPost = post(bob, 'Sunrise at the lighthouse');
    await bobsPost.waitFor({ timeout: 60_000 });
    const link = bobsPost.getByRole('link', { name: 'https://example.org/trip' });
    assert.equal(await link.getAttribute('href'), 'https://example.org/trip');
    assert.match((await link.getAttribute('rel')) ?? '', /noopener noreferrer/);
    await bobsPost.getByText('Cabo da Roca').waitFor();
    await bobsPost.getByRole('list', { name: 'Photos' }).getByRole('img').nth(1).waitFor();
    assert.equal(await bobsPost.getByRole('list', { name: 'Photos' }).getByRole('img').count(), 2);
    await bobsPost.getByRole('button', { name: 'Open photo 2 of 2' }).click();
    const viewer = bob.page.getByRole('dialog', { name: 'Photo 2 of 2' });
    const full = viewer.getByRole('img');
    await full.waitFor({ timeout: 30_000 });
    const size = await full.evaluate(async (img: HTMLImageElement) => {
      if (!img.complete) await new Promise((r) => img.addEventListener('load', r, { once: true }));
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    assert.deepEqual(size, { width: 2048, height: 1536 });
    await bob.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });

    await bobsPost.getByRole('button', { name: 'Like', exact: true }).click();
    await bobsPost.getByRole('button', { name: 'Like', exact: true, pressed: true }).waitFor({ timeout: 30_000 });
    await bobsPost.getByText(`Liked by ${names.bob}`).waitFor({ timeout: 30_000 });
    await comment(bobsPost, BOB_COMMENT);
    await bobsPost.getByText(BOB_COMMENT).waitFor({ timeout: 30_000 });

    // Alice: Bob's like and comment, and the badge on "Moments"; she replies to his comment.
    const alicesPost = post(alice, POST);
    await alicesPost.getByText(BOB_COMMENT).waitFor({ timeout: 60_000 });
    await alicesPost.getByText(`Liked by ${names.bob}`).waitFor({ timeout: 30_000 });
    const momentsNav = alice.page.getByRole('navigation', { name: 'Moments' });
    await momentsNav.getByRole('button', { name: /^Moments \d+ new$/ }).waitFor({ timeout: 30_000 });
    await alicesPost.getByText(BOB_COMMENT).click();
    await alicesPost.getByText(`Replying to ${names.bob}`).waitFor();
    await comment(alicesPost, ALICE_REPLY);
    await alicesPost.getByText(`${names.alice} replied to ${names.bob}: ${ALICE_REPLY}`).waitFor({ timeout: 30_000 });
    // The notices: Bob's like and comment; seeing them clears the badge.
    await alice.page.getByRole('button', { name: /^Notices/ }).click();
    const notices = alice.page.getByRole('list', { name: 'Notices' });
    await notices.getByText('liked your post').waitFor({ timeout: 30_000 });
    await notices.getByText(BOB_COMMENT).waitFor();
    await momentsNav.getByRole('button', { name: 'Moments', exact: true }).waitFor({ timeout: 30_000 });
    // A notice opens its post.
    await notices.getByRole('button').filter({ hasText: BOB_COMMENT }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Post' }).waitFor();
    await alice.page.getByRole('article').filter({ hasText: POST }).getByText(BOB_COMMENT).waitFor();
    await alice.page.getByRole('button', { name: 'Back to timeline' }).click();

    // Bob sees Alice's reply to him.
    await bobsPost.getByText(`${names.alice} replied to ${names.bob}: ${ALICE_REPLY}`).waitFor({ timeout: 60_000 });

    // Carol: the post and Alice's reply, as a reply to a comment she cannot see; never Bob's words or his like.
    await openMoments(carol);
    const carolsPost = post(carol, 'Sunrise at the lighthouse');
    await carolsPost.getByText(`${names.alice} replied to a comment: ${ALICE_REPLY}`).waitFor({ timeout: 60_000 });
    const seen = (await carolsPost.textContent()) ?? '';
    assert.ok(!seen.includes(BOB_COMMENT), 'Bob’s comment is not on Carol’s screen');
    assert.ok(!seen.includes(names.bob), 'nothing of Bob on Carol’s screen');
    assert.equal(await carolsPost.getByText(/Liked by/).count(), 0, 'no likes shown to Carol');
    assert.equal(await carolsPost.getByRole('button', { name: 'Like', exact: true, pressed: false }).count(), 1);

    // Dave, nobody's friend: his timeline stays empty. The tab is a route (#/moments): a reload (or a notification's click) opens it.
    await openMoments(dave);
    assert.equal(new URL(dave.page.url()).hash, '#/moments');
    await dave.page.reload();
    await dave.page.getByRole('heading', { level: 2, name: 'Moments' }).waitFor({ timeout: 30_000 });
    await timeline(dave).waitFor({ state: 'attached' });
    await dave.page.getByText('No posts yet.').waitFor({ timeout: 30_000 });
    assert.equal(await timeline(dave).getByRole('article').count(), 0);

    // Bob deletes his comment: it goes from Alice's screen too.
    await bobsPost.getByRole('button', { name: `Delete “${BOB_COMMENT}”` }).click();
    await bobsPost.getByText(BOB_COMMENT).waitFor({ state: 'detached', timeout: 30_000 });
    await alicesPost.getByText(BOB_COMMENT).waitFor({ state: 'detached', timeout: 60_000 });

    // Alice deletes the post (asked first): it goes from every screen.
    await alicesPost.getByRole('button', { name: 'Delete', exact: true }).click();
    await alice.page.getByRole('dialog', { name: 'Delete this post?' }).getByRole('button', { name: 'Delete post' }).click();
    await alicesPost.waitFor({ state: 'detached', timeout: 30_000 });
    await bobsPost.waitFor({ state: 'detached', timeout: 60_000 });
    await carolsPost.waitFor({ state: 'detached', timeout: 60_000 });
  });

  it('a post to the list “Close friends” reaches Bob and not Carol', async () => {
    // The visibility window is a setting kept by the SDK: chosen, it is what the dialog shows next time.
    await alice.page.getByRole('button', { name: 'Visibility and lists' }).click();
    const windowChoice = alice.page.getByRole('dialog', { name: 'Visibility and lists' }).getByRole('radiogroup', { name: 'Friends can see' });
    await windowChoice.getByRole('radio', { name: 'Last month' }).check();
    await alice.page.keyboard.press('Escape');
    await alice.page.getByRole('button', { name: 'Visibility and lists' }).click();
    await windowChoice.getByRole('radio', { name: 'Last month', checked: true }).waitFor();
    await alice.page.keyboard.press('Escape');
    // Alice makes the list with only Bob in it.
    await alice.page.getByRole('button', { name: 'Visibility and lists' }).click();
    await alice.page.getByRole('dialog', { name: 'Visibility and lists' }).getByRole('button', { name: 'New list' }).click();
    const editor = alice.page.getByRole('dialog', { name: 'New list' });
    await editor.getByLabel('List name').fill('Close friends');
    await editor.getByRole('checkbox', { name: names.bob }).check();
    await editor.getByRole('button', { name: 'Save list' }).click();
    const settings = alice.page.getByRole('dialog', { name: 'Visibility and lists' });
    await settings.getByRole('list', { name: 'Lists' }).getByText('Close friends').waitFor({ timeout: 30_000 });
    await alice.page.keyboard.press('Escape');
    await settings.waitFor({ state: 'detached' });

    const composer = await openComposer(alice, 2);
    await composer.getByRole('textbox', { name: "What's on your mind" }).fill(CLOSE);
    await composer.getByRole('radio', { name: 'Only lists…' }).check();
    await composer.getByRole('checkbox', { name: /Close friends/ }).check();
    await composer.getByRole('button', { name: 'Post', exact: true }).click();
    await composer.waitFor({ state: 'detached', timeout: 60_000 });
    await post(alice, CLOSE).getByText('Close friends', { exact: true }).waitFor({ timeout: 30_000 });
    await post(bob, CLOSE).waitFor({ timeout: 60_000 });

    // A later post to all friends reaches Carol through the same channel after where the first would have been.
    const next = await openComposer(alice, 2);
    await next.getByRole('textbox', { name: "What's on your mind" }).fill(LATER);
    await next.getByRole('button', { name: 'Post', exact: true }).click();
    await next.waitFor({ state: 'detached', timeout: 60_000 });
    await post(carol, LATER).waitFor({ timeout: 60_000 });
    assert.equal(await post(carol, CLOSE).count(), 0, 'the close-friends post is not on Carol’s screen');
    await post(bob, LATER).waitFor({ timeout: 60_000 });
    // Dave still has nothing.
    assert.equal(await timeline(dave).getByRole('article').count(), 0);
    await dave.page.getByText('No posts yet.').waitFor();

    // Bob opens Alice's page from her name: her posts he may see, the close-friends one too.
    await post(bob, CLOSE).getByRole('button', { name: names.alice, exact: true }).click();
    const page = bob.page.getByRole('feed', { name: `Posts by ${names.alice}` });
    await page.getByRole('article').filter({ hasText: CLOSE }).waitFor({ timeout: 30_000 });
    await page.getByRole('article').filter({ hasText: LATER }).waitFor();
    await bob.page.getByRole('button', { name: 'Back to timeline' }).click();
    await timeline(bob).waitFor();

    // Renamed, the list is named so on Alice's post; deleted, the post says so.
    await alice.page.getByRole('button', { name: 'Visibility and lists' }).click();
    await settings.getByRole('button', { name: 'Edit Close friends' }).click();
    const edit = alice.page.getByRole('dialog', { name: 'Edit list' });
    await edit.getByLabel('List name').fill('Inner circle');
    assert.equal(await edit.getByRole('checkbox', { name: names.bob }).isChecked(), true);
    assert.equal(await edit.getByRole('checkbox', { name: names.carol }).isChecked(), false);
    await edit.getByRole('button', { name: 'Save list' }).click();
    await settings.getByRole('list', { name: 'Lists' }).getByText('Inner circle').waitFor({ timeout: 30_000 });
    await settings.getByRole('button', { name: 'Delete Inner circle' }).click();
    await alice.page.getByRole('dialog', { name: 'Delete Inner circle?' }).getByRole('button', { name: 'Delete list' }).click();
    await settings.getByText('No lists yet.').waitFor({ timeout: 30_000 });
    await alice.page.keyboard.press('Escape');
    await post(alice, CLOSE).getByText('a deleted list').waitFor({ timeout: 30_000 });
  });

  it('the timeline keeps only the posts near the viewport in the page and reads older ones as it scrolls', async () => {
    const count = 45;
    await openMoments(carol);
    for (let i = 1; i <= count; i++) {
      await carol.page.getByRole('button', { name: 'New post' }).click();
      const dialog = carol.page.getByRole('dialog', { name: 'New post' });
      await dialog.getByRole('textbox', { name: "What's on your mind" }).fill(`Carol's note number ${i}.`);
      await dialog.getByRole('button', { name: 'Post', exact: true }).click();
      await dialog.waitFor({ state: 'detached', timeout: 60_000 });
    }
    await post(alice, `Carol's note number ${count}.`).waitFor({ timeout: 60_000 });
    // Only a few posts are rendered, not all 45 (plus Alice's own).
    const rendered = await timeline(alice).getByRole('article').count();
    assert.ok(rendered > 0 && rendered < 20, `${rendered} posts in the page`);
    // Scrolled to the end, older pages are read until there are no more, and the oldest shows.
    await alice.page.waitForFunction(
      () => {
        const el = document.querySelector('.moment-scroll');
        if (el === null) return false;
        el.scrollTop = el.scrollHeight;
        return document.querySelector('.moment-end') !== null;
      },
      null,
      { polling: 100, timeout: 60_000 },
    );
    await post(alice, 'Carol\'s note number 1.').waitFor({ timeout: 30_000 });
    assert.ok((await timeline(alice).getByRole('article').count()) < 20, 'still only the posts near the viewport');
    assert.equal(await post(alice, `Carol's note number ${count}.`).count(), 0, 'the newest is out of the page once scrolled away');

    // A new post above what Alice reads does not move it.
    const oldest = post(alice, "Carol's note number 1.");
    const at = (await oldest.boundingBox())?.y;
    const height = () => alice.page.locator('.moment-inner').evaluate((el) => el.getBoundingClientRect().height);
    const tall = await height();
    await carol.page.getByRole('button', { name: 'New post' }).click();
    const dialog = carol.page.getByRole('dialog', { name: 'New post' });
    await dialog.getByRole('textbox', { name: "What's on your mind" }).fill('One more from Carol');
    await dialog.getByRole('button', { name: 'Post', exact: true }).click();
    await alice.page.waitForFunction((h) => (document.querySelector('.moment-inner')?.getBoundingClientRect().height ?? 0) > h, tall, { timeout: 60_000 });
    const now = (await oldest.boundingBox())?.y;
    assert.ok(at !== undefined && now !== undefined && Math.abs(now - at) < 2, `the post Alice reads stayed where it was (${at} → ${now})`);
  });
});
