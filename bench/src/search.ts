import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeContent, newContentId } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { SqliteStore } from '@parley/client/node';
import { ClientRepository, newConversationRecord, StoreBatch } from '../../packages/client/src/store/records.js';
import type { MessageRecord } from '../../packages/client/src/store/records.js';
import { indexBatch, POSTING_PREFIX } from '../../packages/client/src/search/search-index.js';
import { Search } from '../../packages/client/src/search/search.js';
import type { ClientCore } from '../../packages/client/src/core/context.js';
import type { GroupState } from '../../packages/client/src/core/group-state.js';

/**
 * `npm run bench:search [-- --messages N] [--batch B] [--queries Q]`
 *
 * On-device search in the Node SDK over a SQLite store: N messages (default
 * 100,000; a third each English, Chinese, Arabic, generated from word lists
 * with a fixed seed) in 20 conversations, stored in batches of B (default
 * 100, like an inbox run) through ClientRepository.commit — once without the
 * index, once with it (the same hook the client sets). Reports: text size
 * (UTF-8 bytes of the texts) and index size (bytes of the posting keys and
 * values) and their ratio; storing time per message without and with the
 * index, and the time spent in the index hook alone; query time for the
 * first page (20 results) of several queries, median and p95 of Q runs
 * each (default 30). One JSON line.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const N = Number(arg('messages') ?? 100_000);
const BATCH = Number(arg('batch') ?? 100);
const Q = Number(arg('queries') ?? 30);
const CONVERSATIONS = 20;

let seed = 42;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const EN = 'the a to and of meeting lunch tomorrow project deadline review coffee train station weekend family photo address office report budget invoice holiday flight hotel dinner birthday garden music concert ticket doctor appointment school teacher homework football'.split(' ');
const ZH = ['我们', '明天', '北京', '大学', '开会', '项目', '午饭', '周末', '火车站', '咖啡', '报告', '预算', '生日', '音乐会', '医生', '学校', '老师', '作业', '足球', '地址', '办公室', '飞机', '酒店', '晚饭', '的', '了', '在', '去', '是'];
const AR = ['مرحبا', 'اجتماع', 'غدا', 'المشروع', 'الموعد', 'قهوة', 'القطار', 'المحطة', 'عطلة', 'العائلة', 'صورة', 'العنوان', 'المكتب', 'تقرير', 'الميزانية', 'فندق', 'عشاء', 'عيد', 'ميلاد', 'موسيقى', 'طبيب', 'مدرسة', 'في', 'من', 'على'];

function sentence(i: number): string {
  const n = 4 + Math.floor(rand() * 12);
  if (i % 3 === 0) return Array.from({ length: n }, () => pick(EN)).join(' ') + '.';
  if (i % 3 === 1) return Array.from({ length: n }, () => pick(ZH)).join('') + '。';
  return Array.from({ length: n }, () => pick(AR)).join(' ') + '.';
}

const id22 = (): string => randomBytes(16).toString('base64url');
const conversations = Array.from({ length: CONVERSATIONS }, () => randomBytes(32).toString('base64url') as GroupId);
const senders = Array.from({ length: 5 }, () => ({ userId: id22() as UserId, deviceId: id22() as DeviceId }));

function records(): { messages: MessageRecord[]; textBytes: number } {
  seed = 42;
  const seqs = new Map<GroupId, number>();
  const messages: MessageRecord[] = [];
  let textBytes = 0;
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < N; i++) {
    const conversationId = conversations[i % CONVERSATIONS] as GroupId;
    const seq = (seqs.get(conversationId) ?? 0) + 1;
    seqs.set(conversationId, seq);
    const text = sentence(i);
    textBytes += Buffer.byteLength(text);
    const content = { type: 'text' as const, v: 1 as const, id: newContentId(), sentAt: start + i * 60_000, text };
    const s = pick(senders);
    messages.push({ conversationId, seq, senderUserId: s.userId, senderDeviceId: s.deviceId, outgoing: false, receivedAt: content.sentAt, content, plaintext: encodeContent(content) } as MessageRecord);
  }
  return { messages, textBytes };
}

async function store(dir: string, name: string, messages: readonly MessageRecord[], withIndex: boolean) {
  const sqlite = SqliteStore.open(join(dir, `${name}.db`));
  const repo = new ClientRepository(sqlite);
  let hookMs = 0;
  if (withIndex) {
    repo.beforeCommit = async (batch) => {
      const t = performance.now();
      await indexBatch(sqlite, batch);
      hookMs += performance.now() - t;
    };
  }
  const setup = new StoreBatch();
  for (const id of conversations) setup.putConversation(newConversationRecord({ id, title: null, kind: 'group', members: [] }));
  await repo.commit(setup);
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += BATCH) {
    const batch = new StoreBatch();
    for (const m of messages.slice(i, i + BATCH)) batch.putMessage(m);
    await repo.commit(batch);
  }
  return { repo, sqlite, totalMs: performance.now() - t0, hookMs };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
try {
  const { messages, textBytes } = records();
  const plain = await store(dir, 'plain', messages, false);
  await plain.sqlite.close();
  const indexed = await store(dir, 'indexed', messages, true);
  const postings = await indexed.sqlite.list('meta', { prefix: POSTING_PREFIX });
  const indexBytes = postings.reduce((n, e) => n + e.key.length + e.value.length, 0);
  const core = { repo: indexed.repo, session: () => ({}), hiddenGroup: () => undefined } as unknown as ClientCore;
  const state = { visible: () => undefined, nameOf: () => null } as unknown as GroupState;
  const search = new Search(core, state);
  const queries: Record<string, string> = { 'en common (the)': 'the', 'en rare two words': 'birthday concert', 'en prefix (hol)': 'hol', 'zh 2-char word (大学)': '大学', 'zh inside word (车站)': '车站', 'ar word (المكتب)': 'المكتب', 'ar two words': 'قهوة عشاء', 'in one conversation (meeting)': 'meeting' };
  const queryMs: Record<string, { median: number; p95: number; results: number }> = {};
  for (const [label, q] of Object.entries(queries)) {
    const times: number[] = [];
    let results = 0;
    for (let r = 0; r < Q; r++) {
      const t = performance.now();
      const page = await search.query(q, label.startsWith('in one') ? { conversationId: conversations[0] as GroupId, limit: 20 } : { limit: 20 });
      times.push(performance.now() - t);
      results = page.length;
    }
    if (results === 0) throw new Error(`the query "${label}" found nothing: the bench would measure nothing`);
    queryMs[label] = { median: +quantile(times, 0.5).toFixed(2), p95: +quantile(times, 0.95).toFixed(2), results };
  }
  await indexed.sqlite.close();
  const fileBytes = (name: string): number => statSync(join(dir, `${name}.db`)).size;
  console.log(
    JSON.stringify({
      bench: 'search',
      messages: N,
      batch: BATCH,
      textBytes,
      postings: postings.length,
      indexBytes,
      indexToText: +(indexBytes / textBytes).toFixed(2),
      sqliteFileGrowth: +((fileBytes('indexed') - fileBytes('plain')) / textBytes).toFixed(2),
      storeMsPerMessage: { withoutIndex: +(plain.totalMs / N).toFixed(4), withIndex: +(indexed.totalMs / N).toFixed(4), indexHookOnly: +(indexed.hookMs / N).toFixed(4) },
      queryMs,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
