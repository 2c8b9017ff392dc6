import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClientNetwork } from './helpers/network.js';
import { filesUnder, needles, seizureWorkload } from './helpers/seizure.js';

describe('client: seizure', () => {
  it('leaves no plaintext in any server file (db, -wal, -shm, blobs) or log line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-seizure-'));
    try {
      const markers: string[] = [];
      const net = await ClientNetwork.start({ dataDir });
      let closed = false;
      try {
        markers.push(...(await seizureWorkload(net)));
      } finally {
        await net.close();
        closed = true;
      }
      assert.ok(closed);

      const files = filesUnder(dataDir);
      assert.ok(files.some((f) => f.endsWith('.db') || f.includes('sqlite')), `the database is there: ${files.join(', ')}`);
      assert.ok(files.some((f) => f.includes('blob')), 'the encrypted blob is there');
      const logs = Buffer.from(net.server.logs.join('\n'), 'utf8');
      assert.ok(logs.includes('group.commit') && logs.includes('account.registered'), 'the server log was captured (debug level)');
      const haystacks = [...files.map((f) => ({ where: f, bytes: readFileSync(f) })), { where: 'server log', bytes: logs }];
      const found: string[] = [];
      for (const m of markers) {
        for (const n of needles(m)) {
          for (const h of haystacks) if (h.bytes.includes(n.bytes)) found.push(`${m} as ${n.how} in ${h.where}`);
        }
      }
      assert.deepEqual(found, []);
      // The test can fail: the same search finds a marker planted in plain text.
      const planted = Buffer.concat([randomBytes(100), Buffer.from(Buffer.from(markers[0] ?? '').toString('base64url')), randomBytes(100)]);
      assert.ok(needles(markers[0] ?? '').some((n) => planted.includes(n.bytes)), 'the search would find a base64url marker');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
