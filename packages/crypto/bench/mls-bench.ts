/**
 * Quick MLS cost measurement (not a test). Run from the repo root:
 *
 *   node --import tsx packages/crypto/bench/mls-bench.ts
 *
 * For each group size prints one JSON line with medians over several runs:
 * create + add-everyone time, joining from the Welcome, encrypting and
 * decrypting a 200-byte message, adding and removing one device (committer's
 * time to create the commit, and a receiver's time to process it), and the
 * sizes of what goes over the wire. 500 runs only if the smaller sizes left
 * time in the budget (about two minutes in all).
 */
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { createDeviceIdentity, generateDeviceKey, newGroupId, TsMlsEngine } from '../src/index.js';
import type { MlsGroup } from '../src/index.js';

const BUDGET_MS = 120_000;
const started = performance.now();
const serverId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

interface Device {
  engine: TsMlsEngine;
  store: Map<string, Uint8Array>;
}

async function newDevice(): Promise<Device> {
  const identity = createDeviceIdentity(await generateDeviceKey(), { userId: serverId() as UserId, deviceId: serverId() as DeviceId });
  // Benchmarks measure MLS, not directory lookups: accept every credential.
  return { engine: await TsMlsEngine.create({ identity, directory: () => true }), store: new Map() };
}

async function keyPackage(d: Device): Promise<Uint8Array> {
  const [kp] = await d.engine.generateKeyPackages(1);
  if (kp === undefined) throw new Error('no key package');
  d.store.set(kp.ref, kp.privateBundle);
  return kp.keyPackage;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const v = s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return Math.round(v * 100) / 100;
}

type Sample = Record<string, number>;

async function runOnce(members: number): Promise<Sample> {
  const sample: Sample = {};
  const creator = await newDevice();
  const others = await Promise.all(Array.from({ length: members - 1 }, () => newDevice()));
  const kps = await Promise.all(others.map(keyPackage));

  const [[group, addAll], createAddAllMs] = await timed(async () => {
    const g = await creator.engine.createGroup(newGroupId());
    const r = await g.addMembers(kps);
    await g.confirmCommit();
    return [g, r] as const;
  });
  sample['createAddAllMs'] = createAddAllMs;

  const receiverDevice = others[0];
  if (receiverDevice === undefined || addAll.welcome === undefined) throw new Error('need at least two members');
  const [joined, joinMs] = await timed(() =>
    receiverDevice.engine.joinFromWelcome({ welcome: addAll.welcome ?? new Uint8Array(), groupInfo: addAll.groupInfo }, (ref) => receiverDevice.store.get(ref)),
  );
  const receiver: MlsGroup = joined.group;
  sample['joinMs'] = joinMs;
  sample['welcomeBytesAddAll'] = addAll.welcome.length;
  sample['commitBytesAddAll'] = addAll.commit.length;
  sample['groupInfoBytes'] = addAll.groupInfo.length;

  const plaintext = crypto.getRandomValues(new Uint8Array(200));
  const enc: number[] = [];
  const dec: number[] = [];
  for (let i = 0; i < 15; i++) {
    const [msg, e] = await timed(() => group.encrypt(plaintext));
    const [, d] = await timed(() => receiver.processIncoming(msg));
    enc.push(e);
    dec.push(d);
    sample['messageBytes'] = msg.length;
  }
  sample['encryptMs'] = median(enc);
  sample['decryptMs'] = median(dec);

  const newcomer = await newDevice();
  const kp = await keyPackage(newcomer);
  const [addOne, addCommitMs] = await timed(async () => {
    const r = await group.addMembers([kp]);
    await group.confirmCommit();
    return r;
  });
  const [, addRecvMs] = await timed(() => receiver.processIncoming(addOne.commit));
  sample['addOneCommitterMs'] = addCommitMs;
  sample['addOneReceiverMs'] = addRecvMs;
  sample['commitBytesAddOne'] = addOne.commit.length;
  sample['welcomeBytesAddOne'] = addOne.welcome?.length ?? 0;

  const [removeOne, removeCommitMs] = await timed(async () => {
    const r = await group.removeMembers([newcomer.engine.deviceId]);
    await group.confirmCommit();
    return r;
  });
  const [, removeRecvMs] = await timed(() => receiver.processIncoming(removeOne.commit));
  sample['removeOneCommitterMs'] = removeCommitMs;
  sample['removeOneReceiverMs'] = removeRecvMs;
  sample['commitBytesRemoveOne'] = removeOne.commit.length;
  const state = group.serialize();
  sample['stateSecretsBytes'] = state.secrets.length;
  sample['stateTreeBytes'] = state.ratchetTree.length;
  return sample;
}

async function bench(members: number, runs: number): Promise<void> {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    samples.push(await runOnce(members));
    if (performance.now() - started > BUDGET_MS && samples.length >= 1 && members >= 100) break;
  }
  const keys = Object.keys(samples[0] ?? {});
  const out: Record<string, number> = { members, runs: samples.length };
  for (const k of keys) out[k] = median(samples.map((s) => s[k] ?? 0));
  console.log(JSON.stringify(out));
}

const runsFor = (n: number) => (n <= 10 ? 7 : n <= 100 ? 5 : 3);

for (const n of [2, 10, 100, 500]) {
  if (n >= 500 && performance.now() - started > BUDGET_MS / 3) {
    console.log(JSON.stringify({ members: n, skipped: 'time budget' }));
    continue;
  }
  await bench(n, runsFor(n));
}
