import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeClientFrame, encodeFrame, encodePrivateMessageFraming, readMlsFraming, toBase64Url, type DeviceId, type GroupId, type UserId } from '@parley/protocol';
import { decodeBusEvent, encodeBusEvent } from '../../packages/server/src/bus/events.js';
import type { SqliteStorage } from '../../packages/server/src/storage/sqlite/sqlite-storage.js';
import { openStorage, seedDevices, seedGroup } from './seed.js';

/** Micro-benchmarks of the message hot path's pieces, to see where server time goes. */
function time(name: string, n: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  console.log(`${name.padEnd(40)} ${(((performance.now() - t0) * 1000) / n).toFixed(2)} µs`);
}

const gid = randomBytes(16);
const group = toBase64Url(gid) as GroupId;
const payload = encodePrivateMessageFraming(gid, 1n, 'application', randomBytes(310));
const frame = encodeFrame({ t: 'send', rid: 12345, group }, [payload]);
time('decodeClientFrame(send)', 100_000, () => decodeClientFrame(frame));
time('readMlsFraming + toBase64Url', 100_000, () => toBase64Url(readMlsFraming(payload).groupId));
time('encodeFrame(msg)', 100_000, (i) => encodeFrame({ t: 'msg', group, seq: i, kind: 'application', epoch: 1 }, [payload]));
const ev = encodeBusEvent({ type: 'deliver', group, seq: 5, frame });
time('encodeBusEvent', 100_000, () => encodeBusEvent({ type: 'deliver', group, seq: 5, frame }));
time('decodeBusEvent', 100_000, () => decodeBusEvent(ev));
time('encodeFrame(ok)', 100_000, (i) => encodeFrame({ t: 'ok', rid: i, seq: i, epoch: 1 }));

const dir = mkdtempSync(join(tmpdir(), 'parley-micro-'));
const storage = (await openStorage(dir, undefined)) as SqliteStorage;
const devices = await seedDevices(storage, 2);
const g = await seedGroup(storage, devices);
const [a, b] = devices as unknown as [{ deviceId: DeviceId; userId: UserId }, { deviceId: DeviceId }];
// As the server calls it: every append is charged to the sender's queued-bytes quota.
const quota = { userId: a.userId, maxBytes: 2 ** 40 };
const N = 20_000;
let t0 = performance.now();
let seq = 0;
for (let batch = 0; batch < N / 100; batch++) {
  const ps = [];
  for (let i = 0; i < 100; i++) ps.push(storage.appendMessage({ groupId: g.id, senderDevice: a.deviceId, quota, kind: 'application', epoch: 1, payload, blobs: [], expiresAt: 2e9, blobKeepUntil: 0 }));
  const rs = await Promise.all(ps);
  seq = rs.at(-1)?.seq ?? seq;
}
console.log(`${'appendMessage (batches of 100)'.padEnd(40)} ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs`);
t0 = performance.now();
for (let batch = 0; batch < N / 100; batch++) {
  const ps = [];
  for (let i = 0; i < 100; i++) ps.push(storage.ack(b.deviceId, g.id, batch * 100 + i + 2));
  await Promise.all(ps);
}
console.log(`${'ack (batches of 100)'.padEnd(40)} ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs`);
t0 = performance.now();
const trimmed = await storage.trim([g.id]);
console.log(`trim of ${trimmed} messages: ${(performance.now() - t0).toFixed(1)} ms`);
await storage.close();
