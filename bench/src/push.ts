import { spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import webpush from 'web-push';
import { PUSH_WAKE_PAYLOAD, toBase64Url } from '@parley/protocol';
import { defaultConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/logger.js';
import { PushNotifier } from '../../packages/server/src/push/notifier.js';
import { loadOrCreateVapidKeys } from '../../packages/server/src/push/vapid.js';
import { openStorage, seedDevices } from './seed.js';

/**
 * Server CPU per Web Push sent: the notifier as the server runs it (the
 * subscription read from SQLite, the payload encrypted and the VAPID JWT
 * signed by `web-push`, the POST over node:http, the answer read) pushing to
 * DEVICES distinct devices, ROUNDS times. The push service is a plain HTTP
 * server in a child process answering 201, so its CPU is not counted.
 *
 * Then the coalescing figure: 1,000 messages for one device within about a
 * second send 2 pushes (one at once, one trailing after 5 s).
 *
 *   node --import tsx bench/src/push.ts [devices=2000] [rounds=3]
 */
const DEVICES = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);

const receiver = spawn(
  process.execPath,
  ['-e', "const s=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.writeHead(201).end())});s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = Number(await new Promise<string>((resolve) => createInterface({ input: receiver.stdout }).once('line', resolve)));

const dir = mkdtempSync(join(tmpdir(), 'parley-push-bench-'));
try {
  const storage = await openStorage(dir, undefined);
  const devices = await seedDevices(storage, DEVICES);
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: toBase64Url(ecdh.getPublicKey()), auth: toBase64Url(randomBytes(16)) };
  for (const d of devices) await storage.putPushSubscription({ deviceId: d.deviceId, endpoint: `http://127.0.0.1:${port}/p/${toBase64Url(randomBytes(24))}`, ...keys });
  const vapid = loadOrCreateVapidKeys(dir);
  const notifier = new PushNotifier({
    ...defaultConfig().push,
    // Every round pushes to every device again: no coalescing, so each notify is one push.
    coalesceMs: 0,
    // The stand-in push service listens on 127.0.0.1 over plain HTTP.
    allowLocalHttp: true,
    vapid: () => vapid,
    subscriptions: (ids) => storage.pushSubscriptions(ids),
    forget: (id, endpoint) => storage.deletePushSubscription(id, endpoint),
    logger: createLogger('silent'),
  });
  const ids = devices.map((d) => d.deviceId);

  // The library's part alone: encrypt (ECDH + HKDF + AES-GCM) and sign the VAPID JWT (ECDSA P-256).
  const sub = { endpoint: `http://127.0.0.1:${port}/p/x`, keys };
  const opts = { vapidDetails: { subject: 'mailto:bench@parley.example', ...vapid }, TTL: 86400, contentEncoding: 'aes128gcm' as const };
  for (let i = 0; i < 200; i++) webpush.generateRequestDetails(sub, PUSH_WAKE_PAYLOAD, opts);
  let c0 = process.cpuUsage();
  for (let i = 0; i < 2000; i++) webpush.generateRequestDetails(sub, PUSH_WAKE_PAYLOAD, opts);
  let c = process.cpuUsage(c0);
  const libraryUs = (c.user + c.system) / 2000;

  notifier.notify(ids.slice(0, 200));
  await notifier.settled();
  const rows: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const sent0 = notifier.counters.sent;
    c0 = process.cpuUsage();
    const t0 = performance.now();
    notifier.notify(ids);
    await notifier.settled();
    const wall = performance.now() - t0;
    c = process.cpuUsage(c0);
    const sent = notifier.counters.sent - sent0;
    rows.push(`round ${r + 1}: ${sent} pushes in ${(wall / 1000).toFixed(2)} s (${Math.round((sent * 1000) / wall)}/s), server CPU ${((c.user + c.system) / 1000 / sent).toFixed(3)} ms per push; failed ${notifier.counters.failed}`);
  }
  console.log(`web-push encrypt + VAPID sign alone: ${(libraryUs / 1000).toFixed(3)} ms CPU per push`);
  for (const row of rows) console.log(row);
  await notifier.close();

  // Coalescing as configured (5 s): a burst of 1,000 messages stored for one device not connected.
  const coalescing = new PushNotifier({
    ...defaultConfig().push,
    allowLocalHttp: true,
    vapid: () => vapid,
    subscriptions: (list) => storage.pushSubscriptions(list),
    forget: (id, endpoint) => storage.deletePushSubscription(id, endpoint),
    logger: createLogger('silent'),
  });
  const one = ids.slice(0, 1);
  const t1 = performance.now();
  for (let i = 0; i < 1000; i++) {
    coalescing.notify(one);
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await coalescing.settled();
  console.log(`burst of 1,000 notifications over ${((performance.now() - t1) / 1000).toFixed(1)} s (to settle) for one device: ${coalescing.counters.sent} pushes`);
  await coalescing.close();
  await storage.close();
} finally {
  receiver.kill();
  rmSync(dir, { recursive: true, force: true });
}
