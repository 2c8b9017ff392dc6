import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, ServerProcess } from './helpers/processes.js';
import { groupAt, registerAt, streamSends } from './helpers/remote.js';
import { TestSocket } from './helpers/test-network.js';

/**
 * Crash safety on one node: while a sender streams messages, the server is
 * killed with SIGKILL at a random moment and restarted on the same data. Every
 * message the server acknowledged (ok) must reach the recipient after it
 * reconnects; duplicates are possible (at-least-once) and removed by (group, seq).
 */
describe('crash safety (SQLite, kill -9)', () => {
  for (const [i, killAfterMs] of [250, 700, 1300].entries()) {
    it(`loses no acknowledged message when killed after ${killAfterMs} ms (run ${i + 1})`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
      const server = new ServerProcess(await freePort(), { PARLEY_DATA_DIR: dir, DATABASE_URL: '', PARLEY_RATE_LIMITS: 'off' });
      try {
        await server.start();
        const alice = await registerAt(server.url);
        const bob = await registerAt(server.url);
        const group = await groupAt(server.url, alice, [bob.deviceId]);
        const a = await TestSocket.open(server.wsUrl, alice.token);
        const b = await TestSocket.open(server.wsUrl, bob.token);
        const received = new Set<number>();
        let duplicates = 0;
        const take = (s: TestSocket, from: number) => {
          for (const r of s.received.slice(from)) {
            if (r.frame.t !== 'msg' || r.frame.kind !== 'application') continue;
            if (received.has(r.frame.seq)) duplicates++;
            else received.add(r.frame.seq);
          }
        };
        // bob acknowledges now and then while live, so part of the stream comes again after the restart
        const acker = setInterval(() => {
          const last = b.messages(group).at(-1);
          if (last && !b.closed) b.ack(group, last.seq);
        }, 100);
        // alice streams with up to 16 sends in flight and remembers every seq the server acknowledged
        const acked = streamSends(a, group);
        await new Promise((r) => setTimeout(r, killAfterMs));
        await server.kill();
        clearInterval(acker);
        await Promise.all([a.waitClosed(), b.waitClosed()]);
        take(b, 0);
        assert.ok(acked.length > 0, 'some sends were acknowledged before the crash');

        await server.start();
        const b2 = await TestSocket.open(server.wsUrl, bob.token);
        await b2.waitFor((r) => r.frame.t === 'synced', 15_000);
        take(b2, 0);
        const missing = acked.filter((seq) => !received.has(seq));
        assert.deepEqual(missing, [], `acknowledged but never delivered: ${missing.length} of ${acked.length}`);
        // in order and gap-free: whatever was stored is there, from seq 2 on
        const sorted = [...received].sort((x, y) => x - y);
        assert.deepEqual(sorted, Array.from({ length: sorted.length }, (_, k) => k + 2));
        b2.close();
        t.diagnostic(`acknowledged ${acked.length}, delivered ${received.size}, duplicates removed ${duplicates}`);
      } finally {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
