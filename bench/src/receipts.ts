import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeServerFrame, splitFrame } from '@parley/protocol';
import { createClient, MemoryStore } from '@parley/client';
import type { GroupId, ParleyClient, WireSocketFactory } from '@parley/client';
import { nodeSocketFactory } from '@parley/client/node';
import { startParley } from './processes.js';

/**
 * `npm run bench:receipts [-- --members 10] [--messages 100] [--pace-ms 250]`
 *
 * Receipts' cost on the wire: a real server (its own process), a group of
 * `members` users (one device each), everyone online with the conversation
 * open (each message is marked read as it arrives). One member sends
 * `messages` texts; every frame each client receives from the server and
 * sends to it is counted, until every message shows 'read' to its sender
 * and the traffic is quiet. Compared: a receipt per message
 * (`receiptDelayMs: 0`, what batching replaces) and the default batching
 * (at most one receipt per conversation per second), for a burst (sent back
 * to back) and for paced sending (`pace-ms` apart).
 */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

const MEMBERS = arg('members', 10);
const MESSAGES = arg('messages', 100);
const PACE_MS = arg('pace-ms', 250);
const QUIET_MS = 2_000;

class Counter {
  readonly in = new Map<string, number>();
  readonly out = new Map<string, number>();
  counting = false;

  readonly factory: WireSocketFactory = (url, handlers) => {
    const socket = nodeSocketFactory(url, {
      ...handlers,
      onMessage: (data) => {
        if (this.counting) {
          const d = decodeServerFrame(data);
          bump(this.in, d.ok ? d.frame.t : 'invalid');
        }
        handlers.onMessage(data);
      },
    });
    return {
      send: (data) => {
        if (this.counting) bump(this.out, headerType(data));
        socket.send(data);
      },
      close: (code, reason) => socket.close(code, reason),
    };
  };
}

function headerType(data: Uint8Array): string {
  try {
    const h = splitFrame(data).header as { t?: unknown };
    return typeof h.t === 'string' ? h.t : 'unknown';
  } catch {
    return 'invalid';
  }
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

function total(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Result {
  mode: string;
  sending: string;
  members: number;
  messages: number;
  serverFrames: number;
  serverMsgFrames: number;
  clientFrames: number;
  /** Stored receipts (send frames beyond the texts). */
  receipts: number;
  perMessage: number;
  seconds: number;
}

async function scenario(serverUrl: string, delayMs: number, paceMs: number): Promise<Result> {
  const counter = new Counter();
  const id = randomBytes(3).toString('hex');
  const clients: ParleyClient[] = [];
  try {
    const names: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const c = await createClient({ serverUrl, store: new MemoryStore(), deviceSyncIntervalMs: 0, webSocket: counter.factory, receiptDelayMs: delayMs });
      const name = `r${id}m${i}`;
      await c.register(name, `pw-${id}-${i}-long-enough`);
      await c.whenSynced();
      clients.push(c);
      names.push(name);
    }
    const [sender, ...readers] = clients as [ParleyClient, ...ParleyClient[]];
    // The sender is everyone's contact: a stranger's group would be a message request, which sends no receipts.
    for (const r of readers) await r.contacts.add(names[0] ?? '');
    const conv = await sender.createConversation(names.slice(1), { title: 'bench' });
    const groupId: GroupId = conv.id;
    for (const r of readers) await waitUntil(async () => (await r.conversations()).some((c) => c.id === groupId && c.members.length === MEMBERS && c.title === 'bench'), 'join');
    // The conversation is open everywhere: each message is read as it arrives.
    for (const r of readers) {
      r.on('message', (m) => {
        if (m.conversationId === groupId && !m.outgoing && m.status === null) void r.markRead(groupId, m.seq).catch(() => undefined);
      });
    }
    await new Promise((r) => setTimeout(r, QUIET_MS));
    counter.counting = true;
    const t0 = performance.now();
    const seqs: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      seqs.push((await sender.send(groupId, `message ${i}`)).seq);
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
    const last = seqs.at(-1) ?? 0;
    await waitUntil(async () => (await sender.messages(groupId, { afterSeq: last - 1 })).some((m) => m.seq === last && m.status === 'read'), 'all read');
    const seconds = (performance.now() - t0) / 1000;
    // Let the last receipts land.
    let before = -1;
    while (before !== total(counter.in)) {
      before = total(counter.in);
      await new Promise((r) => setTimeout(r, QUIET_MS));
    }
    counter.counting = false;
    const sends = counter.out.get('send') ?? 0;
    return {
      mode: delayMs === 0 ? 'receipt per message' : `batched (${delayMs} ms)`,
      sending: paceMs === 0 ? 'burst' : `every ${paceMs} ms`,
      members: MEMBERS,
      messages: MESSAGES,
      serverFrames: total(counter.in),
      serverMsgFrames: counter.in.get('msg') ?? 0,
      clientFrames: total(counter.out),
      receipts: sends - MESSAGES,
      perMessage: Math.round((total(counter.in) / MESSAGES) * 10) / 10,
      seconds: Math.round(seconds * 10) / 10,
    };
  } finally {
    for (const c of clients) await c.close();
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'parley-receipts-'));
const server = await startParley({ PARLEY_DATA_DIR: join(dataDir, 'server') });
const serverUrl = `http://127.0.0.1:${server.port}`;
const results: Result[] = [];
try {
  for (const paceMs of [0, PACE_MS]) {
    for (const delayMs of [0, 1_000]) {
      const r = await scenario(serverUrl, delayMs, paceMs);
      console.log(JSON.stringify(r));
      results.push(r);
    }
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(`\nServer frames per ${MESSAGES} messages, ${MEMBERS}-member group, everyone online and reading:`);
console.table(results.map((r) => ({ sending: r.sending, receipts: r.mode, 'server→client frames': r.serverFrames, 'of which msg': r.serverMsgFrames, 'client→server frames': r.clientFrames, 'stored receipts': r.receipts, 'frames/message': r.perMessage })));
