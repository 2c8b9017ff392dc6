import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@parley/client/node';
import { runSearchBench } from './search-run.js';

/**
 * `npm run bench:search [-- --messages N] [--batch B] [--queries Q]`
 *
 * On-device search in the Node SDK over a SQLite store (search-run.ts: the
 * same run as the browser's, e2e/bench-search.ts): N messages (default
 * 100,000) stored in batches of B (default 100, like an inbox run) without
 * and with the index; index size against text size (keys + values of the
 * index rows, and the SQLite file's growth), storing time per message
 * without and with the index and in the index hook alone, and the first
 * page (20 results) of several queries, median and p95 of Q runs (default
 * 30). One JSON line.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const messages = Number(arg('messages') ?? 100_000);
const batch = Number(arg('batch') ?? 100);
const queries = Number(arg('queries') ?? 30);
for (const n of [messages, batch, queries]) if (!Number.isSafeInteger(n) || n < 1) throw new Error('--messages, --batch and --queries take positive integers');

const dir = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
try {
  const result = await runSearchBench({ messages, batch, queries, open: async (name) => SqliteStore.open(join(dir, `${name}.db`)), cpuSeconds: async () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }, progress: (line) => console.error(line) });
  const fileBytes = (name: string): number => statSync(join(dir, `${name}.db`)).size;
  console.log(JSON.stringify({ bench: 'search', store: 'sqlite', ...result, sqliteFileGrowth: +((fileBytes('indexed') - fileBytes('plain')) / result.textBytes).toFixed(2) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
