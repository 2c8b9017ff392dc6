import { IndexedDbStore } from '../../packages/client/src/store/indexeddb-store.js';
import { runSearchBench } from '../../bench/src/search-run.js';

/**
 * The browser side of `npm run bench:browser-search` (e2e/bench-search.ts
 * bundles this file): the search benchmark (bench/src/search-run.ts) over
 * IndexedDB in this page, each store a fresh database. Also reports the
 * origin's storage use (navigator.storage.estimate) before each store is
 * opened and at the end: what IndexedDB keeps on disk, compaction included
 * (the store without the index is filled first).
 */
interface Options {
  readonly messages: number;
  readonly batch: number;
  readonly queries: number;
}

const prefix = 'parley-bench-search-';

async function usage(): Promise<number> {
  return (await navigator.storage.estimate()).usage ?? 0;
}

async function run(o: Options) {
  const usageAt: Record<string, number> = { start: await usage() };
  const result = await runSearchBench({
    ...o,
    open: async (name) => {
      usageAt[name] = await usage();
      await IndexedDbStore.destroy(prefix + name);
      return IndexedDbStore.open(prefix + name);
    },
    progress: (line) => console.log(line),
    // Exposed by e2e/bench-search.ts: the CPU time of Chromium's processes, read from outside.
    cpuSeconds: (globalThis as { browserCpuSeconds?: () => Promise<number> }).browserCpuSeconds,
  });
  usageAt['end'] = await usage();
  for (const name of ['plain', 'indexed']) await IndexedDbStore.destroy(prefix + name);
  return { ...result, storageUsageBytes: usageAt };
}

(globalThis as { runSearchBench?: typeof run }).runSearchBench = run;
