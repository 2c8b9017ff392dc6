import { encodeContent, newContentId } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { toBase64Url } from '@parley/protocol';
import type { ClientCore } from '../../packages/client/src/core/context.js';
import type { GroupState } from '../../packages/client/src/core/group-state.js';
import { ClientRepository, newConversationRecord, StoreBatch } from '../../packages/client/src/store/records.js';
import type { MessageRecord } from '../../packages/client/src/store/records.js';
import type { Store } from '../../packages/client/src/store/store.js';
import { Search } from '../../packages/client/src/search/search.js';

/**
 * The search benchmark itself, the same in Node (bench/src/search.ts, a
 * SQLite store) and in the browser (e2e/bench-search.ts, IndexedDB): no
 * Node or DOM API here, only a Store to open by name.
 *
 * N text messages (a third each English, Chinese, Arabic, 4–15 words from
 * word lists, fixed seed) in 20 conversations, stored in batches of B
 * through ClientRepository.commit — once without the index, once with the
 * hook the client sets; wall-clock time, and CPU time if the caller can
 * tell it (`cpuSeconds`: it does not grow when other work shares the
 * cores). Then, on a fresh Search over the indexed store (as
 * after a restart): the first query (it loads the document table), and the
 * first page (20 results) of each query, Q runs each.
 */

export interface SearchBenchOptions {
  readonly messages: number;
  readonly batch: number;
  readonly queries: number;
  /** Opens (creating) the store `name`, empty. */
  readonly open: (name: string) => Promise<Store>;
  readonly progress?: (line: string) => void;
  /** CPU seconds used so far by whatever does the storing (this process; in the browser, Chromium's processes). */
  readonly cpuSeconds?: (() => Promise<number>) | undefined;
}

const CONVERSATIONS = 20;
const INDEX_PREFIXES = ['si/', 'sp/', 'sd/', 'sc/', 'su/'];

export const QUERIES: Readonly<Record<string, string>> = {
  'en common (the)': 'the',
  'en rare two words': 'birthday concert',
  'en prefix (hol)': 'hol',
  'en one-letter prefix (t)': 't',
  'zh 2-char word (大学)': '大学',
  'zh inside word (车站)': '车站',
  'ar word (المكتب)': 'المكتب',
  'ar two words': 'قهوة عشاء',
  'in one conversation (meeting)': 'meeting',
};

const EN = 'the a to and of meeting lunch tomorrow project deadline review coffee train station weekend family photo address office report budget invoice holiday flight hotel dinner birthday garden music concert ticket doctor appointment school teacher homework football'.split(' ');
const ZH = ['我们', '明天', '北京', '大学', '开会', '项目', '午饭', '周末', '火车站', '咖啡', '报告', '预算', '生日', '音乐会', '医生', '学校', '老师', '作业', '足球', '地址', '办公室', '飞机', '酒店', '晚饭', '的', '了', '在', '去', '是'];
const AR = ['مرحبا', 'اجتماع', 'غدا', 'المشروع', 'الموعد', 'قهوة', 'القطار', 'المحطة', 'عطلة', 'العائلة', 'صورة', 'العنوان', 'المكتب', 'تقرير', 'الميزانية', 'فندق', 'عشاء', 'عيد', 'ميلاد', 'موسيقى', 'طبيب', 'مدرسة', 'في', 'من', 'على'];

/** The generated history: the same for the same N, in Node and in the browser. */
export function generate(n: number): { conversations: GroupId[]; messages: MessageRecord[]; textBytes: number } {
  let seed = 42;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const id = (bytes: number): string => toBase64Url(Uint8Array.from({ length: bytes }, () => Math.floor(rand() * 256)));
  const conversations = Array.from({ length: CONVERSATIONS }, () => id(32) as GroupId);
  const senders = Array.from({ length: 5 }, () => ({ userId: id(16) as UserId, deviceId: id(16) as DeviceId }));
  const utf8 = new TextEncoder();
  const seqs = new Map<GroupId, number>();
  const messages: MessageRecord[] = [];
  let textBytes = 0;
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const conversationId = conversations[i % CONVERSATIONS] as GroupId;
    const seq = (seqs.get(conversationId) ?? 0) + 1;
    seqs.set(conversationId, seq);
    const words = 4 + Math.floor(rand() * 12);
    const text =
      i % 3 === 0
        ? Array.from({ length: words }, () => pick(EN)).join(' ') + '.'
        : i % 3 === 1
          ? Array.from({ length: words }, () => pick(ZH)).join('') + '。'
          : Array.from({ length: words }, () => pick(AR)).join(' ') + '.';
    textBytes += utf8.encode(text).length;
    const content = { type: 'text' as const, v: 1 as const, id: newContentId(), sentAt: start + i * 60_000, text };
    const s = pick(senders);
    messages.push({ conversationId, seq, senderUserId: s.userId, senderDeviceId: s.deviceId, outgoing: false, receivedAt: content.sentAt, content, plaintext: encodeContent(content) } as MessageRecord);
  }
  return { conversations, messages, textBytes };
}

/** A Search over a bare repository: the parts of the client core it uses. */
function searchOver(repo: ClientRepository): Search {
  const core = { repo, session: () => ({}), hiddenGroup: () => undefined, isClosed: () => false } as unknown as ClientCore;
  const state = { visible: () => undefined, nameOf: () => null } as unknown as GroupState;
  return new Search(core, state);
}

async function storeAll(store: Store, conversations: readonly GroupId[], messages: readonly MessageRecord[], batchSize: number, withIndex: boolean) {
  const repo = new ClientRepository(store);
  const search = searchOver(repo);
  let hookMs = 0;
  if (withIndex) {
    repo.beforeCommit = async (batch) => {
      const t = performance.now();
      await search.index.indexBatch(batch);
      hookMs += performance.now() - t;
    };
  }
  const setup = new StoreBatch();
  for (const id of conversations) setup.putConversation(newConversationRecord({ id, title: null, kind: 'group', members: [] }));
  await repo.commit(setup);
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += batchSize) {
    const batch = new StoreBatch();
    for (const m of messages.slice(i, i + batchSize)) batch.putMessage(m);
    await repo.commit(batch);
  }
  return { totalMs: performance.now() - t0, hookMs };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const round = (n: number, digits = 2): number => +n.toFixed(digits);

export async function runSearchBench(o: SearchBenchOptions) {
  const { conversations, messages, textBytes } = generate(o.messages);
  o.progress?.(`generated ${messages.length} messages`);
  const plainStore = await o.open('plain');
  const cpu0 = await o.cpuSeconds?.();
  const plain = await storeAll(plainStore, conversations, messages, o.batch, false);
  const cpu1 = await o.cpuSeconds?.();
  await plainStore.close();
  o.progress?.(`stored without the index: ${round(plain.totalMs)} ms`);
  const indexedStore = await o.open('indexed');
  const cpu2 = await o.cpuSeconds?.();
  const indexed = await storeAll(indexedStore, conversations, messages, o.batch, true);
  const cpu3 = await o.cpuSeconds?.();
  o.progress?.(`stored with the index: ${round(indexed.totalMs)} ms`);
  const cpuMs = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : round(((to - from) * 1000) / o.messages, 4));
  let indexBytes = 0;
  let termRows = 0;
  for (const prefix of INDEX_PREFIXES) {
    const rows = await indexedStore.list('meta', { prefix });
    if (prefix === 'si/') termRows = rows.length;
    for (const r of rows) indexBytes += r.key.length + r.value.length;
  }
  // A fresh Search over the same store, as after a restart: the first query loads the document table.
  const search = searchOver(new ClientRepository(indexedStore));
  const t = performance.now();
  const first = await search.query('meeting', { limit: 20 });
  const firstQueryMs = performance.now() - t;
  if (first.length === 0) throw new Error('the first query found nothing');
  const queryMs: Record<string, { median: number; p95: number; results: number }> = {};
  for (const [label, q] of Object.entries(QUERIES)) {
    const times: number[] = [];
    let results = 0;
    for (let r = 0; r < o.queries; r++) {
      const start = performance.now();
      const page = await search.query(q, label.startsWith('in one') ? { conversationId: conversations[0] as GroupId, limit: 20 } : { limit: 20 });
      times.push(performance.now() - start);
      results = page.length;
    }
    if (results === 0) throw new Error(`the query "${label}" found nothing: the bench would measure nothing`);
    queryMs[label] = { median: round(quantile(times, 0.5)), p95: round(quantile(times, 0.95)), results };
  }
  await indexedStore.close();
  return {
    messages: o.messages,
    batch: o.batch,
    textBytes,
    termRows,
    indexBytes,
    indexToText: round(indexBytes / textBytes, 3),
    storeMsPerMessage: { withoutIndex: round(plain.totalMs / o.messages, 4), withIndex: round(indexed.totalMs / o.messages, 4), added: round((indexed.totalMs - plain.totalMs) / o.messages, 4), indexHookOnly: round(indexed.hookMs / o.messages, 4) },
    storeCpuMsPerMessage: o.cpuSeconds === undefined ? undefined : { withoutIndex: cpuMs(cpu0, cpu1), withIndex: cpuMs(cpu2, cpu3) },
    firstQueryAfterOpenMs: round(firstQueryMs),
    queryMs,
  };
}
