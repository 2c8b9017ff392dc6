import assert from 'node:assert/strict';
import type { Browser, BrowserContext, CDPSession, Page, Worker } from 'playwright-core';
import { register, type User } from './browser.js';
import { stubPushManager } from './push-service.js';

/** A notification the app's service worker shows. */
export interface Shown {
  title: string;
  body: string;
  tag: string;
  data: unknown;
}

/**
 * The app's service worker in a browser context, and the notifications it
 * shows: read from inside the worker (its registration), with bounded waits.
 * `context` is read at each call (tests open it in a `before` hook).
 */
export function serviceWorkerProbe(context: () => BrowserContext) {
  /** The worker as it runs now (a push may have restarted it). */
  async function worker(): Promise<Worker> {
    const found = context()
      .serviceWorkers()
      .find((w) => w.url().endsWith('/sw.js'));
    return found ?? (await context().waitForEvent('serviceworker', { timeout: 30_000 }));
  }

  async function inWorker<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await (await worker()).evaluate(fn);
      } catch (err) {
        // The worker may be restarted by a push between finding it and evaluating in it.
        if (attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  const notifications = (): Promise<Shown[]> =>
    inWorker(async () => (await (self as unknown as { registration: ServiceWorkerRegistration }).registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown })));

  async function waitForNotification(match: (n: Shown) => boolean, what: string, timeoutMs = 60_000): Promise<Shown> {
    const deadline = Date.now() + timeoutMs;
    let last: Shown[] = [];
    while (Date.now() < deadline) {
      last = await notifications();
      const hit = last.find(match);
      if (hit !== undefined) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`no notification ${what}; showing: ${JSON.stringify(last)}`);
  }

  const deviceHeld = (): Promise<boolean> => inWorker(async () => ((await navigator.locks.query()).held ?? []).some((l) => l.name === 'parley-device'));

  /** Waits (bounded) until no client holds the device (its pages closed, the lock goes with the document). */
  async function waitForDeviceFree(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await deviceHeld())) await new Promise((r) => setTimeout(r, 50));
  }

  /** Waits until the worker ran a client for a push and let the device go again. */
  async function waitForWorkerRun(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen = false;
    while (Date.now() < deadline) {
      if (await deviceHeld()) seen = true;
      else if (seen) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.fail(seen ? 'the worker kept the device lock' : 'the worker never took the device lock');
  }

  /** A new page of the app in the context, once it shows the signed-in screen. */
  async function openAppPage(url: string): Promise<Page> {
    const page = await context().newPage();
    await page.goto(url);
    await page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 30_000 });
    return page;
  }

  return { worker, inWorker, notifications, waitForNotification, waitForDeviceFree, waitForWorkerRun, openAppPage };
}

/**
 * Registers a user in a browser context where notifications are allowed and
 * the Push API answers with `subscription` (a local push service). Returns
 * the user, the app's service-worker registration id (as CDP names it, read
 * on the app's own page), and a page of another origin with a CDP session
 * through which pushes are delivered while the app's pages come and go.
 */
export async function registerForPush(
  browser: Browser,
  url: string,
  username: string,
  subscription: Parameters<typeof stubPushManager>[0],
): Promise<{ user: User; registrationId: string; driver: Page; cdp: CDPSession }> {
  const user = await register(browser, url, username, {
    beforeLoad: async (c) => {
      await c.grantPermissions(['notifications'], { origin: url });
      await c.addInitScript(stubPushManager(subscription));
    },
  });
  await user.page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  const onPage = await user.context.newCDPSession(user.page);
  const registered = new Promise<string>((resolve) =>
    onPage.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const r of e.registrations) if (!r.isDeleted && r.scopeURL.startsWith(url)) resolve(r.registrationId);
    }),
  );
  await onPage.send('ServiceWorker.enable');
  const registrationId = await registered;
  await onPage.detach();
  const driver = await user.context.newPage();
  const cdp = await user.context.newCDPSession(driver);
  await cdp.send('ServiceWorker.enable');
  return { user, registrationId, driver, cdp };
}
