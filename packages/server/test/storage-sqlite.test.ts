import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../src/storage/sqlite/sqlite-storage.js';
import { storageContract } from './storage-contract.js';

storageContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
  const storage = new SqliteStorage({ path: join(dir, 'parley.db') });
  await storage.migrate();
  return {
    storage,
    async cleanup() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
