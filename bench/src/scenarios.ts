import type { GroupId } from '@parley/protocol';
import { connectAll, makePayload, RelayLoadDevice, type Delivery, type ParleyLoadDevice } from './clients.js';
import { sleep, world, type Result, type StorageKind } from './harness.js';
import { cpuMs, peakRssKb, rssKb } from './proc.js';
import { startRelay } from './processes.js';
import { Latencies, now, round } from './stats.js';

/** Counts deliveries per sender, spotting duplicates and gaps; latencies only inside the measuring window. */
class Tally {
  delivered = 0;
  duplicated = 0;
  /** Distinct deliveries, measuring or not. */
  total = 0;
  readonly latency = new Latencies();
  measuring = false;
  private readonly next = new Map<number, number>();
  private readonly seen = new Map<string, Set<number>>();

  constructor(private readonly fanout = false) {}

  record(d: Delivery, receiver: number): void {
    if (this.fanout) {
      const key = `${receiver}`;
      let s = this.seen.get(key);
      if (!s) this.seen.set(key, (s = new Set()));
      if (s.has(d.seq)) {
        this.duplicated++;
        return;
      }
      s.add(d.seq);
      this.total++;
    } else {
      const expected = this.next.get(d.sender) ?? 0;
      if (d.n < expected) {
        this.duplicated++;
        return;
      }
      this.next.set(d.sender, d.n + 1);
    }
    if (this.measuring) {
      this.delivered++;
      this.latency.add(now() - d.sentAt);
    }
  }

  receivedFrom(sender: number): number {
    return this.next.get(sender) ?? 0;
  }
}

function result(scenario: string, storage: Result['storage'], params: Record<string, unknown>, tally: Tally, seconds: number, cpu: number, peakKb: number, lost: number, extra?: Record<string, unknown>): Result {
  const r: Result = {
    scenario,
    storage,
    params,
    delivered: tally.delivered,
    seconds: round(seconds),
    deliveredPerS: Math.round(tally.delivered / seconds),
    ...tally.latency.summary(),
    cpuMsPer1000: tally.delivered > 0 ? round((cpu / tally.delivered) * 1000) : NaN,
    peakRssMB: round(peakKb / 1024, 1),
    lost,
    duplicated: tally.duplicated,
  };
  if (extra) r.extra = extra;
  return r;
}

/** Runs a measuring window: warm-up, then `seconds` of counting with server (and load generator) CPU measured around it. */
async function measure(pid: number | number[], tally: Tally, warmupMs: number, seconds: number): Promise<{ cpu: number; loadgenCpu: number; seconds: number }> {
  const pids = Array.isArray(pid) ? pid : [pid];
  const cpu = () => pids.reduce((sum, p) => sum + cpuMs(p), 0);
  await sleep(warmupMs);
  const c0 = cpu();
  const l0 = process.cpuUsage();
  const t0 = now();
  tally.measuring = true;
  await sleep(seconds * 1000);
  tally.measuring = false;
  const wall = (now() - t0) / 1000;
  const l = process.cpuUsage(l0);
  return { cpu: cpu() - c0, loadgenCpu: (l.user + l.system) / 1000, seconds: wall };
}

/** The load generator's own CPU per 1,000 delivered, to show which side a run is limited by. */
function loadgenShare(m: { loadgenCpu: number }, tally: Tally): Record<string, unknown> {
  return { loadgenCpuMsPer1000: tally.delivered > 0 ? round((m.loadgenCpu / tally.delivered) * 1000) : NaN };
}

/**
 * Open loop: calls `fire` so that `rate` calls per second have happened since
 * the start, whatever the timer's actual cadence (a late tick catches up
 * instead of silently lowering the offered load). Returns a stop function.
 */
function openLoop(rate: number, fire: () => void): () => void {
  const t0 = now();
  let fired = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((now() - t0) * rate) / 1000);
    while (fired < due) {
      fired++;
      fire();
    }
  }, 1);
  return () => clearInterval(timer);
}

/** 1:1 conversations, closed loop: each device sends its next message once its partner received the previous. */
export async function directClosed(kind: StorageKind, pairs: number, seconds: number, nodes?: number): Promise<Result> {
  const w = await world(kind, Array.from({ length: pairs }, () => 2), nodes === undefined ? {} : { nodes });
  try {
    const tally = new Tally();
    let running = true;
    const sent = new Map<number, number>();
    const acked = new Map<number, number>();
    for (const g of w.groups) {
      const [a, b] = g.devices.map((d) => w.devices.get(d.deviceId)) as [ParleyLoadDevice, ParleyLoadDevice];
      const sendNext = (from: ParleyLoadDevice) => {
        if (!running) return;
        const n = sent.get(from.index) ?? 0;
        sent.set(from.index, n + 1);
        from.send(g.id, makePayload(g.bytes, 1, from.index, n));
      };
      for (const [me, peer] of [[a, b], [b, a]] as const) {
        me.onOk = () => acked.set(me.index, (acked.get(me.index) ?? 0) + 1);
        me.onDeliver = (d) => {
          tally.record(d, me.index);
          sendNext(peer);
        };
      }
      sendNext(a);
      sendNext(b);
    }
    const m = await measure(w.servers.map((x) => x.pid), tally, 2000, seconds);
    running = false;
    await sleep(1500);
    let lost = 0;
    for (const [sender, n] of acked) lost += Math.max(0, n - tally.receivedFrom(sender));
    const all = [...w.devices.values()];
    const errors = all.reduce((s, d) => s + d.errorCount, 0);
    const ackFrames = all.reduce((s, d) => s + d.ackFrames, 0);
    const ridingAcks = all.reduce((s, d) => s + d.ridingAcks, 0);
    const params: Record<string, unknown> = { devices: pairs * 2, conversations: pairs };
    if (nodes !== undefined) params['nodes'] = nodes;
    const peak = Math.max(...w.servers.map((x) => peakRssKb(x.pid)));
    return result(nodes === undefined ? 'direct-closed' : 'cluster-direct-closed', kind, params, tally, m.seconds, m.cpu, peak, lost, { errors, ackFrames, ridingAcks, ...loadgenShare(m, tally) });
  } finally {
    await w.close();
  }
}

/** The same closed loop through the bare relay. */
export async function relayClosed(pairs: number, seconds: number): Promise<Result> {
  const relay = await startRelay();
  const devices = Array.from({ length: pairs * 2 }, (_, i) => new RelayLoadDevice(i));
  try {
    await connectAll(devices, `ws://127.0.0.1:${relay.port}`);
    const tally = new Tally();
    let running = true;
    const sent = new Map<number, number>();
    const fake = new Uint8Array(16);
    for (let p = 0; p < pairs; p++) {
      const a = devices[2 * p] as RelayLoadDevice;
      const b = devices[2 * p + 1] as RelayLoadDevice;
      const sendNext = (from: RelayLoadDevice, to: RelayLoadDevice) => {
        if (!running) return;
        const n = sent.get(from.index) ?? 0;
        sent.set(from.index, n + 1);
        from.send(to.index, makePayload(fake, 1, from.index, n));
      };
      a.onDeliver = (d) => {
        tally.record(d, a.index);
        sendNext(b, a);
      };
      b.onDeliver = (d) => {
        tally.record(d, b.index);
        sendNext(a, b);
      };
      sendNext(a, b);
      sendNext(b, a);
    }
    const m = await measure(relay.pid, tally, 2000, seconds);
    running = false;
    await sleep(500);
    return result('relay-closed', 'none', { devices: pairs * 2, conversations: pairs }, tally, m.seconds, m.cpu, peakRssKb(relay.pid), 0, loadgenShare(m, tally));
  } finally {
    for (const d of devices) d.close();
    await relay.stop();
  }
}

/** 1:1 conversations, open loop at a fixed total rate. */
export async function directOpen(kind: StorageKind, pairs: number, rate: number, seconds: number): Promise<Result> {
  const w = await world(kind, Array.from({ length: pairs }, () => 2));
  try {
    const tally = new Tally();
    const senders: Array<{ dev: ParleyLoadDevice; group: GroupId; bytes: Uint8Array }> = [];
    const acked = new Map<number, number>();
    for (const g of w.groups) {
      for (const d of g.devices) {
        const dev = w.devices.get(d.deviceId) as ParleyLoadDevice;
        dev.onDeliver = (x) => tally.record(x, dev.index);
        dev.onOk = () => acked.set(dev.index, (acked.get(dev.index) ?? 0) + 1);
        senders.push({ dev, group: g.id, bytes: g.bytes });
      }
    }
    const sent = new Map<number, number>();
    let i = 0;
    const stop = openLoop(rate, () => {
      const s = senders[i++ % senders.length];
      if (!s) return;
      const n = sent.get(s.dev.index) ?? 0;
      sent.set(s.dev.index, n + 1);
      s.dev.send(s.group, makePayload(s.bytes, 1, s.dev.index, n));
    });
    const m = await measure(w.server.pid, tally, 1000, seconds);
    stop();
    await sleep(1000);
    let lost = 0;
    for (const [sender, n] of acked) lost += Math.max(0, n - tally.receivedFrom(sender));
    return result('direct-open', kind, { devices: pairs * 2, rate }, tally, m.seconds, m.cpu, peakRssKb(w.server.pid), lost, loadgenShare(m, tally));
  } finally {
    await w.close();
  }
}

/** One large group; a few members send at a fixed rate; every other member receives. */
export async function groupFanout(kind: StorageKind, size: number, rate: number, seconds: number): Promise<Result> {
  const w = await world(kind, [size]);
  try {
    const g = w.groups[0];
    if (!g) throw new Error('no group');
    const tally = new Tally(true);
    const members = g.devices.map((d) => w.devices.get(d.deviceId) as ParleyLoadDevice);
    for (const dev of members) dev.onDeliver = (x) => tally.record(x, dev.index);
    const senders = members.slice(0, 5);
    let okd = 0;
    for (const s of senders) s.onOk = () => okd++;
    let n = 0;
    const stop = openLoop(rate, () => {
      const s = senders[n % senders.length] as ParleyLoadDevice;
      s.send(g.id, makePayload(g.bytes, 1, s.index, n++));
    });
    const m = await measure(w.server.pid, tally, 1000, seconds);
    stop();
    await sleep(1500);
    // Every acknowledged message should have reached every other member.
    const expected = okd * (size - 1);
    return result('group-fanout', kind, { devices: size, rate }, tally, m.seconds, m.cpu, peakRssKb(w.server.pid), Math.max(0, expected - tally.total), {
      deliveriesPerMessage: size - 1,
      offeredPerS: rate * (size - 1),
      ...loadgenShare(m, tally),
    });
  } finally {
    await w.close();
  }
}

/** Many authenticated idle connections: server memory per connection. */
export async function idle(kind: StorageKind, connections: number): Promise<Result> {
  const w = await world(kind, [], { connect: false, loners: connections });
  try {
    await sleep(500);
    const before = rssKb(w.server.pid);
    await connectAll([...w.devices.values()], w.wsUrl, 500);
    await sleep(2000);
    const after = rssKb(w.server.pid);
    const tally = new Tally();
    const r = result('idle', kind, { connections }, tally, 1, 0, peakRssKb(w.server.pid), 0, {
      rssBeforeMB: round(before / 1024, 1),
      rssAfterMB: round(after / 1024, 1),
      kbPerConnection: round((after - before) / connections, 2),
    });
    return r;
  } finally {
    await w.close();
  }
}

/** A device offline while `count` messages arrive, then reconnecting: time to drain its mailbox. */
export async function catchUp(kind: StorageKind, count: number): Promise<Result> {
  const w = await world(kind, [2], { connect: false });
  try {
    const g = w.groups[0];
    if (!g) throw new Error('no group');
    const [senderSeed, receiverSeed] = g.devices;
    const sender = w.devices.get(senderSeed?.deviceId ?? '') as ParleyLoadDevice;
    const receiver = w.devices.get(receiverSeed?.deviceId ?? '') as ParleyLoadDevice;
    await sender.connect(w.wsUrl);
    let acked = 0;
    let inflight = 0;
    let n = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (inflight < 200 && n < count) {
          inflight++;
          sender.send(g.id, makePayload(g.bytes, 1, sender.index, n++));
        }
      };
      sender.onOk = () => {
        acked++;
        inflight--;
        if (acked === count) resolve();
        else pump();
      };
      pump();
    });
    const tally = new Tally();
    tally.measuring = true;
    let got = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    receiver.onDeliver = (d) => {
      tally.record(d, receiver.index);
      if (++got === count) done();
    };
    const c0 = cpuMs(w.server.pid);
    const t0 = now();
    await receiver.connect(w.wsUrl);
    await Promise.race([all, sleep(60_000)]);
    const seconds = (now() - t0) / 1000;
    const cpu = cpuMs(w.server.pid) - c0;
    const r = result('catch-up', kind, { messages: count }, tally, seconds, cpu, peakRssKb(w.server.pid), count - got, { drainSeconds: round(seconds, 3) });
    return { ...r, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  } finally {
    await w.close();
  }
}
