import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createClient, MemoryStore, ParleyClient } from '@parley/client';
import type { GroupId, Store } from '@parley/client';
import { SqliteStore } from '@parley/client/node';
import { startParley } from './processes.js';

/**
 * `npm run bench:catchup [-- --messages N] [--store sqlite|memory|both]`
 *
 * Node SDK catch-up: a real server (its own process), user A sends N messages
 * into one conversation while B's devices are offline (their clients closed,
 * their stores kept), then each B device starts again from its store. Measured:
 * from `createClient` (resume + connect) until the N-th message event, and
 * from the `online` connection state until then (the part that is the inbox's).
 * One JSON line per store, then a table. `--profile DIR` writes a V8 CPU
 * profile of each catch-up (only that window) to DIR, for profile-summary.ts.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const messages = Number(arg('messages') ?? 10_000);
const storeArg = arg('store') ?? 'both';
const profileDir = arg('profile');
const kinds = storeArg === 'both' ? (['sqlite', 'memory'] as const) : ([storeArg] as Array<'sqlite' | 'memory'>);
if (!Number.isSafeInteger(messages) || messages < 1) throw new Error('--messages must be a positive integer');

interface Result {
  store: string;
  messages: number;
  /** Resume (load account, connect) until the last message event. */
  totalSeconds: number;
  /** From the `online` state until the last message event. */
  inboxSeconds: number;
  messagesPerS: number;
  /** Until `whenSynced` (the end of the backlog, every message stored). */
  syncedSeconds: number;
  stored: number;
  errors: number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'parley-catchup-'));
const server = await startParley({ PARLEY_DATA_DIR: join(dataDir, 'server') });
const serverUrl = `http://127.0.0.1:${server.port}`;
const results: Result[] = [];
try {
  const pw = `pw-${randomBytes(8).toString('hex')}`;
  const id = randomBytes(4).toString('hex');
  const alice = await createClient({ serverUrl, store: new MemoryStore(), deviceSyncIntervalMs: 0 });
  await alice.register(`alice${id}`, pw);
  const readers: Array<{ kind: 'sqlite' | 'memory'; name: string; open: () => Store; store: Store }> = [];
  for (const kind of kinds) {
    const path = join(dataDir, `${kind}.db`);
    const open = kind === 'sqlite' ? () => SqliteStore.open(path) : (() => {
      const memory = new MemoryStore();
      return () => memory;
    })();
    const name = `bob${kind}${id}`;
    const store = open();
    const bob = await createClient({ serverUrl, store, deviceSyncIntervalMs: 0 });
    await bob.register(name, pw);
    await bob.whenSynced();
    // Alice is a contact: her group is an ordinary conversation, not a message request.
    await bob.contacts.add(`alice${id}`);
    await bob.close();
    if (kind === 'sqlite') await store.close();
    readers.push({ kind, name, open, store });
  }
  const conv = await alice.createConversation(readers.map((r) => r.name), { title: 'catch-up' });
  // Every reader joins (its Welcome) before the backlog is written, so only messages wait.
  for (const r of readers) {
    const store = r.open();
    const bob = await createClient({ serverUrl, store, deviceSyncIntervalMs: 0 });
    await bob.whenSynced();
    for (let i = 0; (await bob.conversations()).length === 0; i++) {
      if (i > 400) throw new Error('the reader never joined');
      await new Promise((res) => setTimeout(res, 25));
    }
    await bob.close();
    if (r.kind === 'sqlite') await store.close();
  }
  const sendStart = performance.now();
  for (let i = 0; i < messages; i++) await alice.send(conv.id, `message ${i} ${'x'.repeat(40)}`);
  console.error(`sent ${messages} messages in ${((performance.now() - sendStart) / 1000).toFixed(1)} s`);
  await alice.close();

  for (const r of readers) {
    const store = r.open();
    const bob = new ParleyClient({ serverUrl, store, deviceSyncIntervalMs: 0 });
    let count = 0;
    let errors = 0;
    let online = 0;
    let last = 0;
    const done = new Promise<void>((resolve) => {
      bob.on('message', (m) => {
        if (m.conversationId !== conv.id || m.content.type !== 'text') return;
        count++;
        if (count === messages) {
          last = performance.now();
          resolve();
        }
      });
    });
    bob.on('connection', (e) => {
      if (e.state === 'online' && online === 0) online = performance.now();
    });
    bob.on('error', () => errors++);
    const profiler = profileDir === undefined ? undefined : new Session();
    if (profiler !== undefined) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const start = performance.now();
    await bob.resume();
    await done;
    if (profiler !== undefined && profileDir !== undefined) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(profileDir, `catchup-${r.kind}.cpuprofile`), JSON.stringify(profile));
      profiler.disconnect();
    }
    await bob.whenSynced();
    const synced = performance.now();
    const stored = (await bob.messages(conv.id as GroupId)).length;
    await bob.close();
    if (r.kind === 'sqlite') await store.close();
    const inboxSeconds = (last - online) / 1000;
    const result: Result = {
      store: r.kind,
      messages,
      totalSeconds: round((last - start) / 1000),
      inboxSeconds: round(inboxSeconds),
      messagesPerS: Math.round(messages / inboxSeconds),
      syncedSeconds: round((synced - start) / 1000),
      stored,
      errors,
    };
    results.push(result);
    console.log(JSON.stringify(result));
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log('\n| store | messages | messages/s | online → last message s | resume → last message s | resume → synced s | stored | errors |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) console.log(`| ${r.store} | ${r.messages} | ${r.messagesPerS} | ${r.inboxSeconds} | ${r.totalSeconds} | ${r.syncedSeconds} | ${r.stored} | ${r.errors} |`);

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
