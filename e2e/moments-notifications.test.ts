/**
 * Notifications for Moments end to end: a real server, a real Chromium with
 * the built web app and its service worker, and the local stand-in for the
 * browser's push service (see notifications.test.ts for how pushes reach the
 * worker). Alice (the browser) and Bob (an SDK client) are friends: mutual
 * contacts. Bob's comment, like and reply on Alice's moment travel as
 * messages of their pair's group; with the app closed the content-free push
 * wakes the worker, which runs the SDK on the device's own store and shows
 * what it decided. With the app open but not in front, the page shows it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { createClient, MemoryStore, type MomentPost, type ParleyClient } from '@parley/client';
import { PUSH_WAKE_PAYLOAD } from '@parley/protocol';
import { createAppContext, defaultConfig, startServer, type AppContext, type ParleyServer } from '@parley/server';
import { MOMENTS_ROUTE, MOMENTS_TAG } from '../apps/web/src/notify/moments.js';
import { GENERIC_BODY, GENERIC_TITLE } from '../apps/web/src/notify/rules.js';
import { closeSettings, launchBrowser, openConversation, PASSWORD, type User } from './helpers/browser.js';
import { LocalPushService } from './helpers/push-service.js';
import { registerForPush, serviceWorkerProbe } from './helpers/service-worker.js';
import { WEB_DIST } from './helpers/server.js';


const POST = 'First swim of the year at the harbour';
const COMMENT = 'Brave! How cold was it?';
const ALICE_COMMENT = 'Fourteen degrees, I lasted two minutes';
const REPLY = 'Two minutes is a record';
const SECRET = 'meet me at the pier at nine';

describe('Moments notifications decided on the device', { timeout: 420_000 }, () => {
  let server: ParleyServer;
  let ctx: AppContext;
  let dataDir: string;
  let push: LocalPushService;
  let browser: Browser;
  let context: BrowserContext;
  /** A page of another origin kept open in Alice's profile: the CDP session that delivers pushes lives on it. */
  let driver: Page;
  let cdp: CDPSession;
  let registrationId = '';
  let alice: User;
  let bob: ParleyClient;
  let postId = '';
  const suffix = Math.random().toString(36).slice(2, 7);
  const names = { alice: `alice${suffix}`, bob: `bob${suffix}` };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-moments-notify-'));
    push = await LocalPushService.start();
    const base = defaultConfig();
    ctx = await createAppContext({ ...base, port: 0, dataDir, webDir: WEB_DIST, logLevel: 'warn', push: { ...base.push, allowLocalHttp: true, coalesceMs: 200 } });
    server = await startServer(ctx);
    browser = await launchBrowser();
  });

  after(async () => {
    await bob?.close();
    await browser?.close();
    await server?.close();
    await push?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const { inWorker, notifications, waitForNotification, waitForDeviceFree, waitForWorkerRun, openAppPage } = serviceWorkerProbe(() => context);

  async function waitForNoMomentsNotification(what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while ((await notifications()).some((n) => n.tag === MOMENTS_TAG) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      (await notifications()).filter((n) => n.tag === MOMENTS_TAG),
      [],
      what,
    );
  }

  async function waitFor<T>(read: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (value !== undefined) return value;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function openAlice(): Promise<Page> {
    const page = await openAppPage(server.url);
    alice = { ...alice, page };
    return page;
  }

  /** Every page of the app closed: the worker decides. Waits until the device is free and the server saw Alice go. */
  async function closeAlice(): Promise<void> {
    await alice.page.close();
    await waitForDeviceFree();
    await waitFor(() => (server.connectionCount <= 1 ? true : undefined), 'the server to see Alice go', 15_000);
  }

  async function openMoments(page: Page): Promise<void> {
    await page.getByRole('navigation', { name: 'Moments' }).getByRole('button', { name: /^Moments/ }).click();
    await page.getByRole('heading', { level: 2, name: 'Moments' }).waitFor({ timeout: 10_000 });
    await page.getByRole('feed', { name: 'Timeline' }).waitFor({ state: 'attached', timeout: 30_000 });
  }

  async function bobsCopy(match: (p: MomentPost) => boolean, what: string): Promise<MomentPost> {
    return waitFor(async () => (await bob.moments.timeline()).posts.find((p) => p.state === 'ready' && match(p)), what);
  }

  it('Alice turns notifications on, befriends Bob and posts a moment', async () => {
    ({ user: alice, registrationId, driver, cdp } = await registerForPush(browser, server.url, names.alice, push.subscription));
    context = alice.context;

    await alice.page.getByRole('button', { name: 'Settings', exact: true }).click();
    const settings = alice.page.getByRole('dialog', { name: 'Settings' });
    await settings.getByRole('switch', { name: 'Notifications on this device' }).click();
    await settings.getByRole('switch', { name: 'Notifications on this device', checked: true }).waitFor({ timeout: 15_000 });
    await closeSettings(alice);
    push.onPush = async (payload) => {
      assert.equal(payload, PUSH_WAKE_PAYLOAD, 'a push carries the constant wake-up and nothing else');
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId, data: payload });
    };

    // Friends are mutual contacts: Bob starts a chat (Alice becomes his contact), Alice accepts (Bob becomes hers).
    bob = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
    await bob.register(names.bob, PASSWORD);
    const chat = await bob.createConversation([names.alice]);
    await bob.send(chat.id, 'Hi Alice, Bob here');
    await openConversation(alice, names.bob);
    await waitFor(async () => ((await bob.moments.friends()).some((f) => f.username === names.alice) ? true : undefined), 'Bob to count Alice a friend');

    await openMoments(alice.page);
    await alice.page.getByRole('button', { name: 'New post' }).click();
    const composer = alice.page.getByRole('dialog', { name: 'New post' });
    await composer.getByRole('radio', { name: 'All friends (1)' }).waitFor({ timeout: 60_000 });
    await composer.getByRole('textbox', { name: "What's on your mind" }).fill(POST);
    await composer.getByRole('button', { name: 'Post', exact: true }).click();
    await composer.waitFor({ state: 'detached', timeout: 60_000 });
    postId = (await bobsCopy((p) => p.text === POST, 'Alice’s post on Bob’s device')).id;
  });

  it('app closed: Bob comments → "Bob commented on your moment" with the text; then likes → one notification "2 new in Moments"', async (t) => {
    await closeAlice();
    const sent = performance.now();
    await bob.moments.comment(postId, COMMENT);
    const shown = await waitForNotification((n) => n.tag === MOMENTS_TAG, 'for the comment');
    t.diagnostic(`from comment to notification, app closed: ${Math.round(performance.now() - sent)} ms`);
    assert.equal(shown.title, `${names.bob} commented on your moment`);
    assert.equal(shown.body, COMMENT);

    await bob.moments.like(postId, true);
    const both = await waitForNotification((n) => n.tag === MOMENTS_TAG && n.title === '2 new in Moments', 'for the comment and the like');
    assert.equal(both.body, `${names.bob} liked your moment`);
    assert.equal((await notifications()).filter((n) => n.tag === MOMENTS_TAG).length, 1, 'one notification for Moments');
  });

  it('seen in the app: the Moments notification is closed', async () => {
    const page = await openAlice();
    assert.equal((await notifications()).filter((n) => n.tag === MOMENTS_TAG).length, 1);
    await openMoments(page);
    await page.getByRole('button', { name: /^Notices/ }).click();
    await page.getByRole('heading', { level: 2, name: 'Notices' }).waitFor({ timeout: 10_000 });
    await waitForNoMomentsNotification('the notices were seen');
    await page.getByRole('button', { name: 'Back to timeline' }).click();
  });

  it('app open but not in front: Bob replies to Alice’s comment → the page shows "Bob replied to your comment"', async () => {
    const page = alice.page;
    const article = page.getByRole('feed', { name: 'Timeline' }).getByRole('article').filter({ hasText: POST });
    const box = article.getByRole('textbox', { name: 'Write a comment' });
    if (!(await box.isVisible())) await article.getByRole('button', { name: 'Comment', exact: true }).click();
    await box.fill(ALICE_COMMENT);
    await box.press('Enter');
    await box.waitFor({ state: 'detached', timeout: 30_000 });
    const withComment = await bobsCopy((p) => p.id === postId && p.comments.some((c) => c.text === ALICE_COMMENT), 'Alice’s comment on Bob’s device');
    const target = withComment.comments.find((c) => c.text === ALICE_COMMENT);
    assert.ok(target !== undefined);

    const session = await context.newCDPSession(page);
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: false });
    await driver.bringToFront();
    await page.waitForFunction(() => !document.hasFocus(), undefined, { timeout: 10_000 });
    const pushes = push.payloads.length;
    await bob.moments.comment(postId, REPLY, { replyTo: target.id });
    const shown = await waitForNotification((n) => n.tag === MOMENTS_TAG, 'from the page');
    assert.deepEqual([shown.title, shown.body], [`${names.bob} replied to your comment`, REPLY]);
    assert.equal(push.payloads.length, pushes, 'a connected device is not pushed to: the page decided');
    await page.bringToFront();
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await session.detach();
  });

  it('content hidden: only "New message", never Bob’s name or text; a click opens Moments', async () => {
    const page = alice.page;
    // Seen first (the reply), so the next notice stands alone.
    await page.getByRole('button', { name: /^Notices/ }).click();
    await waitForNoMomentsNotification('the reply was seen');
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const settings = page.getByRole('dialog', { name: 'Settings' });
    await settings.getByRole('switch', { name: 'Show message content in notifications' }).click();
    await settings.getByRole('switch', { name: 'Show message content in notifications', checked: false }).waitFor({ timeout: 15_000 });
    await closeSettings(alice);
    await closeAlice();

    await bob.moments.comment(postId, SECRET);
    const shown = await waitForNotification((n) => n.tag === MOMENTS_TAG, 'with content hidden');
    assert.deepEqual([shown.title, shown.body], [GENERIC_TITLE, GENERIC_BODY]);
    const all = JSON.stringify(await notifications());
    assert.ok(!all.includes('pier'), 'no text');
    assert.ok(!all.includes(names.bob), 'no name');

    // Clicked while the app is open: the worker sends the tab to Moments, and the notification goes.
    const reopened = await openAlice();
    await inWorker(async () => {
      const [n] = await (self as unknown as { registration: ServiceWorkerRegistration }).registration.getNotifications({ tag: 'parley-moments' });
      const Ctor = (self as unknown as { NotificationEvent: new (type: string, init: { notification: Notification }) => Event }).NotificationEvent;
      if (n !== undefined) self.dispatchEvent(new Ctor('notificationclick', { notification: n }));
    });
    await reopened.waitForFunction((route) => window.location.hash === route, MOMENTS_ROUTE, { timeout: 15_000 });
    await waitForNoMomentsNotification('the clicked notification is closed');
  });

  it('a friend’s new moment is sent silent and shows nothing; the comment after it wakes the device for itself alone', async () => {
    // The frames' `silent` flags are checked in packages/client/test/moments.test.ts; here: what the closed app shows.
    await openMoments(alice.page);
    await alice.page.getByRole('button', { name: /^Notices/ }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Notices' }).waitFor({ timeout: 10_000 });
    // Seen (stored) before the app closes: then the next notice stands alone.
    await alice.page.getByRole('button', { name: 'Notices', exact: true }).waitFor({ timeout: 15_000 });
    await waitForNoMomentsNotification('the earlier notices were seen');
    await closeAlice();
    await bob.moments.post({ text: 'Bob’s own moment' });
    const run = waitForWorkerRun();
    await bob.moments.comment(postId, 'one more thing');
    await run;
    const shown = await waitForNotification((n) => n.tag === MOMENTS_TAG, 'for the comment only');
    assert.deepEqual([shown.title, shown.body], [GENERIC_TITLE, GENERIC_BODY], 'one notice (content still hidden): the post added nothing');
    assert.equal((await notifications()).length, 1);
  });
});
