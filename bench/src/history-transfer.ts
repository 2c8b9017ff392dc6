import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient, MemoryStore } from '@parley/client';
import type { GroupId, HistoryEvent } from '@parley/client';
import { SqliteStore } from '@parley/client/node';
import { startParley } from './processes.js';

/**
 * `npm run bench:history [-- --messages N] [--runs R]`
 *
 * History on a newly linked device, Node SDK to Node SDK, both with SQLite
 * stores: a real server (its own process); user B sends N texts (default
 * 10,000) to user A's device, which stores them; then a new device of A is
 * linked and approved with `history: 'all'`. Measured on the new device's
 * 'history' events: from approveLink until 'importing' (device sync adds the
 * device, the approving device writes, encrypts and uploads the archive and
 * sends its key), from 'importing' until 'imported' (download, digest and
 * tag checks, decompression, validation of every record, one store batch),
 * and the total; the archive's size is what the approving device uploaded
 * (PUT /v1/blobs, counted on this process's fetch). One JSON line per run.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const messages = Number(arg('messages') ?? 10_000);
const runs = Number(arg('runs') ?? 1);
if (!Number.isSafeInteger(messages) || messages < 1 || !Number.isSafeInteger(runs) || runs < 1) throw new Error('--messages and --runs take positive integers');

// The archive's size: every blob upload from this process (only the approving device uploads here).
let uploaded = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (init?.method === 'PUT' && url.includes('/v1/blobs/') && init.body instanceof Uint8Array) uploaded += init.body.length;
  return realFetch(input, init);
};

const dataDir = mkdtempSync(join(tmpdir(), 'parley-history-'));
const server = await startParley({ PARLEY_DATA_DIR: join(dataDir, 'server') });
const serverUrl = `http://127.0.0.1:${server.port}`;
const common = { serverUrl, deviceSyncIntervalMs: 0, receiptDelayMs: 60_000 };
try {
  for (let run = 0; run < runs; run++) {
    const pw = `pw-${randomBytes(8).toString('hex')}`;
    const id = randomBytes(4).toString('hex');
    const aliceStore = SqliteStore.open(join(dataDir, `alice-${run}.db`));
    const alice = await createClient({ ...common, store: aliceStore });
    await alice.register(`alice${id}`, pw);
    const bob = await createClient({ ...common, store: new MemoryStore() });
    await bob.register(`bob${id}`, pw);
    // Bob is alice's contact: his chat is an ordinary conversation, not a message request.
    await alice.contacts.add(`bob${id}`);
    const conv = await bob.createConversation([`alice${id}`]);
    let received = 0;
    const all = new Promise<void>((resolve) =>
      alice.on('message', (m) => {
        if (m.conversationId === conv.id && m.content.type === 'text' && ++received === messages) resolve();
      }),
    );
    const sendStart = performance.now();
    for (let i = 1; i <= messages; i++) await bob.send(conv.id, `history ${i} of ${messages} ${'x'.repeat(40)}`);
    await all;
    const sendSeconds = (performance.now() - sendStart) / 1000;

    const freshStore = SqliteStore.open(join(dataDir, `fresh-${run}.db`));
    const fresh = await createClient({ ...common, store: freshStore, linkPollMs: 100 });
    const events: Array<HistoryEvent & { at: number }> = [];
    const ended = new Promise<void>((resolve) =>
      fresh.on('history', (e) => {
        events.push({ ...e, at: performance.now() });
        if (e.state !== 'importing') resolve();
      }),
    );
    let errors = 0;
    fresh.on('error', () => errors++);
    alice.on('error', () => errors++);
    const link = await fresh.linkDevice(`alice${id}`, pw);
    uploaded = 0;
    const start = performance.now();
    await alice.approveLink(link.uri, { history: 'all' });
    await link.approved;
    await ended;
    const importing = events.find((e) => e.state === 'importing');
    const last = events.at(-1);
    if (importing === undefined || last?.state !== 'imported') throw new Error(`the transfer failed: ${JSON.stringify(events)}`);
    const stored = (await fresh.messages(conv.id as GroupId)).length;
    console.log(
      JSON.stringify({
        scenario: 'history-transfer-node',
        store: 'sqlite',
        messages,
        imported: last.messages,
        stored,
        archiveBytes: uploaded,
        approveToKeySeconds: round((importing.at - start) / 1000),
        importSeconds: round((last.at - importing.at) / 1000),
        totalSeconds: round((last.at - start) / 1000),
        messagesPerS: Math.round(messages / ((last.at - start) / 1000)),
        sendSeconds: round(sendSeconds),
        errors,
      }),
    );
    await fresh.close();
    await freshStore.close();
    await alice.close();
    await aliceStore.close();
    await bob.close();
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
