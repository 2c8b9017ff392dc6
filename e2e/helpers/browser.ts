import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_MISSING = 'Chromium is missing: run "apt-get update && apt-get install -y chromium"';

/** The system Chromium, headless. Never downloads a browser. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM_MISSING);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

export interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly username: string;
}

export const PASSWORD = 'correct horse battery staple';

/** A fresh browser profile (its own IndexedDB) with the app open. */
export async function openApp(browser: Browser, url: string, options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? 'light' });
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

export async function signIn(browser: Browser, url: string, username: string): Promise<User> {
  const { context, page } = await openApp(browser, url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor({ state: 'visible', timeout: 30_000 });
  return { context, page, username };
}

export async function startChat(user: User, other: string): Promise<void> {
  await user.page.getByRole('button', { name: 'New chat' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Username').fill(other);
  await dialog.getByRole('button', { name: 'Start chat' }).click();
  await user.page.getByRole('heading', { level: 2, name: other }).waitFor({ state: 'visible', timeout: 30_000 });
}

export async function openConversation(user: User, title: string): Promise<void> {
  await user.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${escape(title)}`) }).click({ timeout: 30_000 });
  await user.page.getByRole('heading', { level: 2, name: title }).waitFor({ state: 'visible', timeout: 10_000 });
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
