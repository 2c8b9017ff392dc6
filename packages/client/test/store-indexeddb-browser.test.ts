import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/**
 * The IndexedDB adapter in a real browser: the scenarios in
 * browser/indexeddb-store.entry.ts, bundled for the browser (through the
 * public `@parley/client` entry, so this also proves that entry bundles
 * without Node built-ins) and run in the system Chromium, served from
 * 127.0.0.1 (IndexedDB needs a real origin; about:blank has none).
 */

const CHROMIUM = '/usr/bin/chromium';
const ENTRY = fileURLToPath(new URL('./browser/indexeddb-store.entry.ts', import.meta.url));

describe('IndexedDbStore in Chromium', () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let origin = '';

  before(async () => {
    // Never a skip: without Chromium every test below fails with this message (see tab()).
    if (!existsSync(CHROMIUM)) return;
    const bundle = await build({ entryPoints: [ENTRY], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome120', logLevel: 'silent' });
    const js = bundle.outputFiles[0]?.contents;
    assert.ok(js !== undefined && js.length > 0, 'the bundle was built');
    const html = '<!doctype html><meta charset="utf-8"><title>store test</title><script src="/bundle.js"></script>';
    server = createServer((req, res) => {
      if (req.url === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      } else if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      } else {
        res.writeHead(404).end();
      }
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    context = await browser.newContext();
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  });

  async function tab(): Promise<Page> {
    assert.ok(existsSync(CHROMIUM), 'Chromium is missing: apt-get install -y chromium');
    assert.ok(context, 'the browser is running');
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${origin}/`);
    await page.waitForFunction('typeof globalThis.parleyStoreScenarios === "object"');
    assert.deepEqual(errors, [], 'the bundle loads without errors');
    return page;
  }

  // Scenarios are called by name with a string expression: nothing from this (transpiled) file is serialised into the page.
  async function run<T>(page: Page, scenario: string, arg = ''): Promise<T> {
    return (await page.evaluate(`globalThis.parleyStoreScenarios[${JSON.stringify(scenario)}](${JSON.stringify(arg)})`)) as T;
  }

  const dbName = () => `parley-browser-${randomBytes(5).toString('hex')}`;

  it('puts, gets, deletes and lists in key order with prefix, after, before, reverse and limit', async () => {
    const page = await tab();
    try {
      const r = await run<Record<string, unknown>>(page, 'basics', dbName());
      assert.equal(r['kind'], 'indexeddb');
      assert.equal(r['get'], 'two');
      assert.equal(r['missing'], null);
      assert.deepEqual(r['all'], ['one', 'two', 'ten', 'other']);
      assert.deepEqual(r['prefix'], ['one', 'two', 'ten']);
      assert.deepEqual(r['after'], ['two', 'ten']);
      assert.deepEqual(r['limit'], ['one', 'two']);
      assert.deepEqual(r['before'], ['one', 'two']);
      assert.deepEqual(r['latest'], ['ten', 'two']);
      assert.deepEqual(r['literalPrefix'], ['x']);
      assert.deepEqual(r['meta'], ['same key, other table']);
      assert.equal(r['unknownTable'], 'invalid_key');
      assert.deepEqual(r['afterUpdate'], ['one', 'TWO']);
    } finally {
      await page.close();
    }
  });

  it('applies a batch completely or not at all', async () => {
    const page = await tab();
    try {
      const r = await run<Record<string, unknown>>(page, 'atomic', dbName());
      assert.deepEqual(r, { badKey: 'invalid_key', badTable: 'invalid_key', kept: 'v1', created: null });
    } finally {
      await page.close();
    }
  });

  it('keeps validated records across a page reload', async () => {
    const name = dbName();
    const page = await tab();
    try {
      assert.deepEqual(await run(page, 'writeForReload', name), { written: 1 });
      await page.reload();
      await page.waitForFunction('typeof globalThis.parleyStoreScenarios === "object"');
      assert.deepEqual(await run(page, 'readBack', name), { seq: 7, text: 'kept across a reload' });
    } finally {
      await page.close();
    }
  });

  it('upgrades a version-1 database to the media table and keeps chunked media written in one transaction', async () => {
    const page = await tab();
    try {
      assert.deepEqual(await run(page, 'upgradeFromVersion1', dbName()), { account: 'from version 1', media: [] });
      assert.deepEqual(await run(page, 'media', dbName()), { same: true, chunks: 4, afterDelete: 'missing', left: 0 });
    } finally {
      await page.close();
    }
  });

  it('destroy deletes the database; a store open in another tab closes itself instead of blocking it', async () => {
    const name = dbName();
    const [first, second] = [await tab(), await tab()];
    try {
      assert.deepEqual(await run(first, 'holdOpen', name), { holding: true });
      assert.deepEqual(await run(second, 'contents', name), { meta: ['someone'], messages: [] });
      const destroyed = await run<{ databases: string[] }>(second, 'destroy', name);
      assert.ok(!destroyed.databases.includes(name), 'the database is gone');
      assert.deepEqual(await run(first, 'otherTabState'), { reasons: ['versionchange'], read: 'closed' });
      assert.deepEqual(await run(second, 'contents', name), { meta: [], messages: [] }, 'a new database starts empty');
    } finally {
      await first.close();
      await second.close();
    }
  });
});
