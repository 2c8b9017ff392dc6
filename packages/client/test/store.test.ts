import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../src/index.js';
import type { Store } from '../src/index.js';
import { SqliteStore } from '../src/node.js';
import { storeContract } from './store-contract.js';

storeContract('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
}, { persistent: false });

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  const path = join(dir, 'client.db');
  let current: Store = SqliteStore.open(path);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = SqliteStore.open(path);
      return current;
    },
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, { persistent: true });
