/**
 * Notifications end to end: a real server, a real Chromium with the built web
 * app and its service worker, and a stand-in for the browser's push service
 * (a third party that cannot run here). The test plays that push service:
 * every push the server sends to it is decrypted with the subscription's keys
 * (RFC 8291, checked to carry nothing but the wake-up) and handed to the
 * service worker with CDP ServiceWorker.deliverPushMessage. Only
 * PushManager.subscribe/getSubscription are stubbed in the page, to return a
 * subscription for that local endpoint. What the worker shows is read with
 * registration.getNotifications() in the worker itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { createClient, MemoryStore, type Conversation, type Message, type ParleyClient, type UserId } from '@parley/client';
import { PUSH_WAKE_PAYLOAD, toBase64Url } from '@parley/protocol';
import { createAppContext, defaultConfig, startServer, type AppContext, type ParleyServer } from '@parley/server';
import { badgeLabel } from '../apps/web/src/notify/favicon.js';
import { countOf, GENERIC_BODY, GENERIC_TAG, isReadBy, notificationFor, routeFor, shouldNotify } from '../apps/web/src/notify/rules.js';
import { acceptRequest, closeSettings, launchBrowser, PASSWORD, register, type User } from './helpers/browser.js';
import { LocalPushService } from './helpers/push-service.js';
import { registerForPush, serviceWorkerProbe } from './helpers/service-worker.js';
import { TestServer, WEB_DIST } from './helpers/server.js';


describe('notifications decided on the device (service worker, Web Push)', { timeout: 300_000 }, () => {
  let server: ParleyServer;
  let ctx: AppContext;
  let dataDir: string;
  let push: LocalPushService;
  let browser: Browser;
  let context: BrowserContext;
  /** A page of another origin kept open in A's browser profile: the CDP session lives on it. */
  let driver: Page;
  let cdp: CDPSession;
  let registrationId: string | undefined;
  let alice: User;
  let bob: ParleyClient;
  let conversation: Conversation;
  const names = { alice: `alice${Date.now() % 1e6}`, bob: `bob${Date.now() % 1e6}` };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-notify-'));
    push = await LocalPushService.start();
    const base = defaultConfig();
    ctx = await createAppContext({
      ...base,
      port: 0,
      dataDir,
      webDir: WEB_DIST,
      logLevel: 'warn',
      push: { ...base.push, allowLocalHttp: true, coalesceMs: 200 },
    });
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

  /** Pushes held back (like a push service while the phone is out of reach), delivered by `release`. */
  let held: string[] | undefined;
  const deliver = (payload: string) => cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId: registrationId ?? '', data: payload });
  async function release(): Promise<void> {
    const queued = held ?? [];
    held = undefined;
    for (const p of queued) await deliver(p);
  }

  const { inWorker, notifications, waitForNotification, waitForDeviceFree, waitForWorkerRun, openAppPage } = serviceWorkerProbe(() => context);

  async function waitForNoNotifications(what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while ((await notifications()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await notifications(), [], what);
  }

  const clearNotifications = () =>
    inWorker(async () => {
      for (const n of await (self as unknown as { registration: ServiceWorkerRegistration }).registration.getNotifications()) n.close();
    });

  async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function openAlice(): Promise<Page> {
    const page = await openAppPage(server.url);
    alice = { ...alice, page };
    return page;
  }

  async function closeAlice(): Promise<void> {
    await alice.page.close();
    // The page's client let the device go (the lock goes with the document).
    await waitForDeviceFree();
    await aliceOffline();
  }

  /** The server saw Alice's sockets close (only Bob's is left): until then a message goes to such a socket, not to a push. */
  async function aliceOffline(): Promise<void> {
    await waitFor(() => server.connectionCount <= (bob === undefined ? 0 : 1), 'the server to see Alice go');
  }

  it('turns notifications on in Settings: permission, a push subscription for the server’s VAPID key, registered with the server', async () => {
    ({ user: alice, registrationId, driver, cdp } = await registerForPush(browser, server.url, names.alice, push.subscription));
    context = alice.context;

    await alice.page.getByRole('button', { name: 'Settings' }).click();
    const settings = alice.page.getByRole('dialog', { name: 'Settings' });
    const on = settings.getByRole('switch', { name: 'Notifications on this device' });
    const content = settings.getByRole('switch', { name: 'Show message content in notifications' });
    assert.equal(await on.getAttribute('aria-checked'), 'false');
    assert.equal(await content.getAttribute('aria-checked'), 'true', 'content shown by default');
    await on.click();
    await settings.getByRole('switch', { name: 'Notifications on this device', checked: true }).waitFor({ timeout: 15_000 });
    await closeSettings(alice);

    const vapid = (JSON.parse(readFileSync(join(dataDir, 'vapid.json'), 'utf8')) as { publicKey: string }).publicKey;
    const used = await alice.page.evaluate(() => (window as unknown as { __parleyPushKey: number[] }).__parleyPushKey);
    assert.equal(toBase64Url(Uint8Array.from(used)), vapid, 'subscribed with the server’s VAPID key');
    assert.ok(registrationId !== undefined, 'the service worker is registered');

    // From here on, the test is the push service: each push is checked and delivered to the worker (or held back a moment).
    push.onPush = async (payload) => {
      assert.equal(payload, PUSH_WAKE_PAYLOAD, 'a push carries the constant wake-up and nothing else');
      if (held !== undefined) held.push(payload);
      else await deliver(payload);
    };

    bob = await createClient({ serverUrl: server.url, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
    await bob.register(names.bob, PASSWORD);
  });

  it('app closed: a request shows who wrote but not what; the click opens its conversation', async () => {
    await closeAlice();
    // The Welcome and the message both wait when the device wakes (else it may close before the message comes: see below).
    held = [];
    conversation = await bob.createConversation([names.alice]);
    await bob.send(conversation.id, 'Hi Alice, it is Bob — lunch at noon?');
    await waitFor(() => (held?.length ?? 0) >= 2, 'a push for the Welcome and one for the message (coalesced)');
    await release();
    const shown = await waitForNotification((n) => n.tag === conversation.id, 'for the request');
    // The second push found nothing new, and left the unread request's notification alone.
    await new Promise((r) => setTimeout(r, 1500));
    await aliceOffline();
    assert.equal((await notifications()).filter((n) => n.tag === conversation.id).length, 1, 'still shown after the second wake-up');
    assert.equal(shown.title, names.bob);
    assert.equal(shown.body, 'Message request', 'a stranger’s text waits for acceptance');
    assert.ok(push.payloads.length >= 1);

    // A click with the app open: the worker sends the open tab to the conversation.
    const page = await openAlice();
    await inWorker(async () => {
      const [n] = await (self as unknown as { registration: ServiceWorkerRegistration }).registration.getNotifications();
      const Ctor = (self as unknown as { NotificationEvent: new (type: string, init: { notification: Notification }) => Event }).NotificationEvent;
      if (n !== undefined) self.dispatchEvent(new Ctor('notificationclick', { notification: n }));
    });
    await page.waitForFunction((id) => window.location.hash === `#/c/${id}`, conversation.id, { timeout: 15_000 });
    assert.deepEqual(await notifications(), [], 'the clicked notification is closed');
    await acceptRequest(alice, names.bob);
  });

  it('app closed: sender and text, one notification per conversation with the latest message and the count', async (t) => {
    await closeAlice();
    await clearNotifications();
    const sent = performance.now();
    await bob.send(conversation.id, 'Are you coming?');
    await waitForNotification((n) => n.tag === conversation.id && n.body === 'Are you coming?', 'for the first message');
    await aliceOffline();
    // Send → stored → push → worker started, synced, quiet spell (400 ms), decided → shown.
    t.diagnostic(`from send to notification, app closed: ${Math.round(performance.now() - sent)} ms`);
    await bob.send(conversation.id, 'The table is booked for two');
    const shown = await waitForNotification((n) => n.tag === conversation.id && n.body.startsWith('The table is booked for two'), 'for the second message');
    assert.equal(shown.title, names.bob);
    assert.equal(shown.body, 'The table is booked for two\n2 new messages');
    assert.equal(countOf(shown.data), 2);
    assert.equal((await notifications()).length, 1, 'one notification for the conversation');
  });

  it('app open but not in front: the page shows the notification itself by the same rules; read, it goes; in front: none', async () => {
    const page = await openAlice();
    const entry = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${names.bob}`) });
    // Reading the conversation closes the notification the worker showed for it.
    assert.equal((await notifications()).length, 1);
    await entry.click();
    await waitForNoNotifications('the conversation was read');
    await page.evaluate(() => (window.location.hash = '#/'));
    // Another window in front: the app's tab is open (connected, holding the device) but not focused.
    const session = await context.newCDPSession(page);
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: false });
    await driver.bringToFront();
    await page.waitForFunction(() => !document.hasFocus(), undefined, { timeout: 10_000 });
    const pushes = push.payloads.length;
    await bob.send(conversation.id, 'Still there?');
    const shown = await waitForNotification((n) => n.tag === conversation.id, 'from the page');
    assert.deepEqual([shown.title, shown.body], [names.bob, 'Still there?']);
    assert.equal(push.payloads.length, pushes, 'a connected device is not pushed to');
    // Opening the conversation reads it: its notification is closed.
    await page.bringToFront();
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await session.detach();
    await entry.click();
    await waitForNoNotifications('read here: the notification is gone');
    // In front (focused, another view showing): no system notification — the list shows it.
    await page.evaluate(() => (window.location.hash = '#/'));
    await bob.send(conversation.id, 'You are here');
    await entry.filter({ hasText: 'You are here' }).waitFor({ timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await notifications(), [], 'nothing while the app is in front');
    // The unread count is drawn on the tab's icon, and goes once read.
    const icon = page.locator('link[rel="icon"]');
    await page.waitForFunction(() => document.querySelector('link[rel="icon"]')?.getAttribute('data-unread') === '1', undefined, { timeout: 10_000 });
    assert.match((await icon.getAttribute('href')) ?? '', /^data:image\/png;base64,/);
    await entry.click();
    await page.waitForFunction(() => !document.querySelector('link[rel="icon"]')?.hasAttribute('data-unread'), undefined, { timeout: 10_000 });
    assert.equal(await icon.getAttribute('href'), '/icons/icon.svg');
    await closeAlice();
  });

  it('content hidden in Settings: only "New message"', async () => {
    const page = await openAlice();
    await clearNotifications();
    await page.getByRole('button', { name: 'Settings' }).click();
    const settings = page.getByRole('dialog', { name: 'Settings' });
    const content = settings.getByRole('switch', { name: 'Show message content in notifications' });
    await content.click();
    await settings.getByRole('switch', { name: 'Show message content in notifications', checked: false }).waitFor({ timeout: 15_000 });
    await closeSettings(alice);
    await closeAlice();

    await bob.send(conversation.id, 'the secret password is swordfish');
    const shown = await waitForNotification((n) => n.tag === conversation.id, 'with content hidden');
    assert.equal(shown.title, 'Parley');
    assert.equal(shown.body, GENERIC_BODY);
    assert.ok(!JSON.stringify(await notifications()).includes('swordfish'));
    assert.ok(!JSON.stringify(await notifications()).includes(names.bob));
  });

  it('a muted conversation: nothing', async () => {
    const page = await openAlice();
    const nav = page.getByRole('navigation', { name: 'Conversations' });
    await nav.getByRole('button', { name: `Options for ${names.bob}` }).click();
    await page.getByRole('menu', { name: `Options for ${names.bob}` }).getByRole('menuitem', { name: 'Mute' }).click();
    await nav.getByRole('button', { name: new RegExp(`^${names.bob}.*Muted`) }).waitFor({ timeout: 15_000 });
    await closeAlice();
    await clearNotifications();

    const pushes = push.payloads.length;
    const run = waitForWorkerRun();
    await bob.send(conversation.id, 'this one is muted');
    await run;
    assert.ok(push.payloads.length > pushes, 'the device was woken');
    assert.deepEqual(await notifications(), []);
    await aliceOffline();
  });

  it('the device busy elsewhere (lock held): one generic "New message", nothing decrypted', async () => {
    await clearNotifications();
    const taken = await inWorker(
      async () =>
        new Promise<boolean>((taken) => {
          void navigator.locks.request('parley-device', { ifAvailable: true }, (lock) => {
            taken(lock !== null);
            return lock === null ? undefined : new Promise<void>((release) => ((self as unknown as { releaseTestLock: () => void }).releaseTestLock = release));
          });
        }),
    );
    assert.ok(taken, 'the device lock was free');
    await bob.send(conversation.id, 'while the device is busy');
    const shown = await waitForNotification((n) => n.tag === GENERIC_TAG, 'generic');
    assert.equal(shown.title, 'Parley');
    assert.equal(shown.body, GENERIC_BODY);
    assert.equal(routeFor(shown.data), '#/');
    await inWorker(async () => (self as unknown as { releaseTestLock: () => void }).releaseTestLock());
  });

  it('signing out deletes the subscription on the server and forgets the notification settings', async () => {
    const members = (await bob.conversation(conversation.id)).members;
    const devices = members.find((m) => m.username === names.alice)?.devices ?? [];
    assert.equal(devices.length, 1);
    assert.equal((await ctx.storage.pushSubscriptions(devices)).length, 1, 'subscribed until now');
    const page = await openAlice();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign out and delete local data' }).click();
    await page.getByRole('button', { name: 'Register' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await ctx.storage.pushSubscriptions(devices), []);
    const databases = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    assert.ok(!databases.includes('parley-notify'), 'the notification settings are gone');
  });
});

describe('one client per device (the device lock)', { timeout: 120_000 }, () => {
  it('a second tab waits, saying why, and takes over once the first closes', async () => {
    const server = await TestServer.start();
    const browser = await launchBrowser();
    try {
      const user = await register(browser, server.url, `carol${Date.now() % 1e6}`);
      const second = await user.context.newPage();
      await second.goto(server.url);
      await second.getByRole('alert').filter({ hasText: 'Parley is open in another tab' }).waitFor({ timeout: 15_000 });
      assert.equal(await second.getByRole('button', { name: 'New chat' }).count(), 0, 'no second client on the same device');
      await user.page.close();
      await second.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 30_000 });
    } finally {
      await browser.close();
      await server.dispose();
    }
  });
});

describe('notification rules (apps/web/src/notify/rules.ts)', () => {
  const me = 'user-me' as UserId;
  const conv = (over: Partial<Conversation> = {}): Conversation =>
    ({ id: 'conv1', title: 'Team', kind: 'direct', members: [], status: 'active', createdAt: 0, readSeq: 4, unread: 1, disappearAfterMs: null, muted: false, pinned: false, archived: false, request: false, invitedBy: null, ...over }) as Conversation;
  const msg = (over: Omit<Partial<Message>, 'content'> & { content?: unknown } = {}): Message =>
    ({
      conversationId: 'conv1',
      seq: 5,
      sender: { userId: 'user-bob', deviceId: 'd', username: 'bob' },
      outgoing: false,
      sentAt: 1,
      receivedAt: 1,
      content: { type: 'text', v: 1, id: 'x', sentAt: 1, text: 'hello' },
      id: 'x',
      replyTo: null,
      reactions: [],
      editedAt: null,
      deleted: false,
      status: null,
      expiresAt: null,
      ...over,
    }) as Message;
  const nameOf = (_id: UserId, username: string | null) => (username === 'bob' ? 'Bob B.' : (username ?? '?'));

  it('notifies only new, unread messages from others in conversations that are not muted', () => {
    assert.equal(shouldNotify(msg(), conv(), me), true);
    assert.equal(shouldNotify(msg({ outgoing: true }), conv(), me), false);
    assert.equal(shouldNotify(msg(), conv({ muted: true }), me), false);
    assert.equal(shouldNotify(msg({ seq: 4 }), conv(), me), false, 'read already (here or on another device)');
    assert.equal(shouldNotify(msg({ deleted: true }), conv(), me), false);
    assert.equal(shouldNotify(msg({ content: { type: 'notice' } }), conv(), me), false);
    assert.equal(shouldNotify(msg(), conv({ status: 'left' }), me), false);
  });

  it('title: the sender (in a group: "… in <group>"); body: the text or the kind of media; hidden content: "New message"', () => {
    assert.deepEqual(
      { ...notificationFor(msg(), conv(), 1, nameOf, true) },
      { title: 'Bob B.', body: 'hello', tag: 'conv1', data: { conversationId: 'conv1', count: 1, seq: 5 } },
    );
    assert.equal(notificationFor(msg(), conv({ kind: 'group' }), 1, nameOf, true).title, 'Bob B. in Team');
    assert.equal(notificationFor(msg(), conv({ kind: 'group', title: null }), 1, nameOf, true).title, 'Bob B. in a group');
    const photo = msg({ content: { type: 'attachment', mimeType: 'image/png', fileName: 'a.png' } });
    assert.equal(notificationFor(photo, conv(), 1, nameOf, true).body, 'Photo');
    assert.equal(notificationFor(msg({ content: { type: 'attachment', mimeType: 'application/pdf', fileName: 'a.pdf', caption: 'minutes' } }), conv(), 1, nameOf, true).body, 'File: minutes');
    assert.equal(notificationFor(msg({ content: { type: 'voice', mimeType: 'audio/webm' } }), conv(), 1, nameOf, true).body, 'Voice message');
    assert.equal(notificationFor(msg(), conv(), 3, nameOf, true).body, 'hello\n3 new messages');
    const hidden = notificationFor(msg(), conv(), 1, nameOf, false);
    assert.deepEqual([hidden.title, hidden.body], ['Parley', 'New message']);
    assert.equal(notificationFor(msg(), conv(), 2, nameOf, false).body, '2 new messages');
    assert.equal(notificationFor(msg(), conv({ request: true }), 1, nameOf, true).body, 'Message request');
    assert.ok(notificationFor(msg({ content: { type: 'text', text: 'x'.repeat(1000) } }), conv(), 1, nameOf, true).body.length <= 180);
    const spoof = notificationFor(msg({ content: { type: 'text', text: 'pay \u202Eevil\u202C now' } }), conv({ kind: 'group', title: 'Te\u2066am' }), 1, nameOf, true);
    assert.deepEqual([spoof.title, spoof.body], ['Bob B. in Team', 'pay evil now'], 'direction overrides dropped');
  });

  it('a click routes only to a well-formed conversation id; counts read back defensively', () => {
    assert.equal(routeFor({ conversationId: 'abc_DEF-1' }), '#/c/abc_DEF-1');
    assert.equal(routeFor({ conversationId: '../x' }), '#/');
    assert.equal(routeFor({ conversationId: 'a/b#c' }), '#/');
    assert.equal(routeFor(null), '#/');
    assert.equal(countOf({ count: 3 }), 3);
    assert.equal(countOf({ count: -1 }), 0);
    assert.equal(countOf({ count: 'many' }), 0);
    assert.equal(countOf(undefined), 0);
    assert.equal(isReadBy({ conversationId: 'c', seq: 5 }, 'c', 5), true, 'read up to the message shown');
    assert.equal(isReadBy({ conversationId: 'c', seq: 6 }, 'c', 5), false);
    assert.equal(isReadBy({ conversationId: 'd', seq: 1 }, 'c', 5), false);
    assert.equal(isReadBy({ conversationId: 'c' }, 'c', 5), false, 'no seq (the generic one): not closed by reading');
  });

  it('the favicon badge label: the count, capped', () => {
    assert.deepEqual([1, 9, 42, 99, 100, 12345].map(badgeLabel), ['1', '9', '42', '99', '99+', '99+']);
  });
});
