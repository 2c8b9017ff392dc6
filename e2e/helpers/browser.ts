import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_MISSING = 'Chromium is missing: run "apt-get update && apt-get install -y chromium"';

/**
 * The system Chromium, headless. Never downloads a browser. `fakeMedia`: a
 * synthetic microphone and camera that need no permission prompt (for
 * recording voice messages).
 */
export async function launchBrowser(options: { fakeMedia?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM_MISSING);
  const media = options.fakeMedia === true ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'] : [];
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...media] });
}

export interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly username: string;
}

export const PASSWORD = 'correct horse battery staple';

/** A fresh browser profile (its own IndexedDB) with the app open. */
export async function openApp(
  browser: Browser,
  url: string,
  options: {
    viewport?: { width: number; height: number };
    colorScheme?: 'light' | 'dark';
    /** Runs on the new context before the app is loaded (a test clock, a WebSocket route). */
    beforeLoad?: (context: BrowserContext) => Promise<void>;
  } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? 'light' });
  await options.beforeLoad?.(context);
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

export async function register(browser: Browser, url: string, username: string, options: Parameters<typeof openApp>[2] = {}): Promise<User> {
  const { context, page } = await openApp(browser, url, options);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 30_000 });
  return { context, page, username };
}

/**
 * Signs in on a fresh browser profile. A browser that holds no device of the
 * account starts linking: it shows "Link this device" and a code, and waits.
 * Returns the code as shown (e.g. "ABCDE-FGHJK").
 */
export async function startLinking(browser: Browser, url: string, username: string, password = PASSWORD): Promise<{ user: User; code: string }> {
  const { context, page } = await openApp(browser, url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Link this device' }).waitFor({ timeout: 30_000 });
  const code = await page.getByText(LINK_CODE).textContent({ timeout: 10_000 });
  if (code === null || !LINK_CODE.test(code)) throw new Error(`no link code on the pending screen: ${String(code)}`);
  return { user: { context, page, username }, code };
}

/** How the pending screen shows a link code: two groups of five Crockford base32 characters. */
export const LINK_CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

/** On a signed-in device: Settings → "Link a new device" → the code → the "Approve new device" dialog (left open). */
export async function openApproval(approver: User, code: string): Promise<Locator> {
  await approver.page.getByRole('button', { name: 'Settings' }).click();
  await approver.page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Link a new device' }).click();
  const link = approver.page.getByRole('dialog', { name: 'Link a new device' });
  await link.getByLabel('Code from the new device').fill(code);
  await link.getByRole('button', { name: 'Continue' }).click();
  const approve = approver.page.getByRole('dialog', { name: 'Approve new device' });
  await approve.waitFor({ timeout: 30_000 });
  return approve;
}

/** A second device of `approver`'s user, linked by approval; resolves once it is in the app. */
export async function linkDevice(browser: Browser, url: string, approver: User): Promise<User> {
  const { user, code } = await startLinking(browser, url, approver.username);
  const approve = await openApproval(approver, code);
  await approve.getByRole('button', { name: 'Approve' }).click();
  const done = approver.page.getByRole('dialog', { name: 'Device linked' });
  await done.getByRole('button', { name: 'Done' }).click();
  await closeSettings(approver);
  await user.page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 60_000 });
  return user;
}

/** Closes Settings, and first the link dialog opened from it if it is still showing (Esc goes back one step). */
export async function closeSettings(user: User): Promise<void> {
  const link = user.page.getByRole('dialog', { name: 'Link a new device' });
  if ((await link.count()) > 0) {
    await user.page.keyboard.press('Escape');
    await link.waitFor({ state: 'hidden' });
  }
  const settings = user.page.getByRole('dialog', { name: 'Settings' });
  await settings.waitFor();
  await user.page.keyboard.press('Escape');
  await settings.waitFor({ state: 'hidden' });
}

export async function startChat(user: User, other: string): Promise<void> {
  await user.page.getByRole('button', { name: 'New chat' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Username').fill(other);
  await dialog.getByRole('button', { name: 'Start chat' }).click();
  await user.page.getByRole('heading', { level: 2, name: other }).waitFor({ state: 'visible', timeout: 30_000 });
}

/**
 * Opens a conversation from the list. One started by someone who is not a
 * contact lands in "Requests" first: if that is where it shows up, it is
 * accepted there (which makes the sender a contact) and then opened.
 */
export async function openConversation(user: User, title: string): Promise<void> {
  // The sidebar may be showing the requests: back to the chats first.
  const requests = user.page.getByRole('navigation', { name: 'Requests' });
  if (await requests.isVisible()) await requests.getByRole('button', { name: 'Back to chats' }).click();
  const entry = user.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${escape(title)}`) });
  const pending = user.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: /^Requests \d/ });
  // Either it is a chat, or a request under that name — another pending request does not make it one: look in
  // the requests, and if it is not there (yet), back to the chats and wait on.
  const deadline = Date.now() + 60_000;
  for (;;) {
    await entry.or(pending).first().waitFor({ state: 'visible', timeout: Math.max(1, deadline - Date.now()) });
    if (await entry.isVisible()) {
      await entry.click();
      break;
    }
    const nav = await openRequests(user);
    const request = nav.getByRole('button', { name: new RegExp(`^${escape(title)}`) });
    if (await request.waitFor({ state: 'visible', timeout: 2_000 }).then(() => true, () => false)) {
      await acceptRequest(user, title);
      break;
    }
    await nav.getByRole('button', { name: 'Back to chats' }).click();
    if (Date.now() > deadline) throw new Error(`no conversation and no request named ${title}`);
  }
  await user.page.getByRole('heading', { level: 2, name: title }).waitFor({ state: 'visible', timeout: 10_000 });
}

/** Opens "Requests" (left open, the sidebar showing the requests); resolves once the list is there. */
export async function openRequests(user: User): Promise<Locator> {
  const nav = user.page.getByRole('navigation', { name: 'Requests' });
  if (!(await nav.isVisible())) await user.page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: /^Requests/ }).click();
  await nav.waitFor({ state: 'visible' });
  return nav;
}

/** Accepts the pending request whose entry starts with `title` (the sender's name, or a group's title); the conversation opens. */
export async function acceptRequest(user: User, title: string): Promise<void> {
  const nav = await openRequests(user);
  await nav.getByRole('button', { name: new RegExp(`^${escape(title)}`) }).click({ timeout: 30_000 });
  await user.page.getByRole('group', { name: 'Answer the request' }).getByRole('button', { name: 'Accept' }).click();
  await user.page.getByRole('textbox', { name: 'Message' }).waitFor({ state: 'visible', timeout: 30_000 });
}

export async function sendText(user: User, text: string): Promise<void> {
  await user.page.getByRole('textbox', { name: 'Message' }).fill(text);
  await user.page.getByRole('textbox', { name: 'Message' }).press('Enter');
}

/** Waits until the open conversation shows a message containing `text`. */
export async function expectMessage(user: User, text: string, timeout = 30_000): Promise<void> {
  await user.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: timeout });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
