import { catchUp, directClosed, directOpen, groupFanout, idle, relayClosed } from './scenarios.js';
import type { Result, StorageKind } from './harness.js';

/**
 * `npm run bench [-- --scenario NAME] [--storage sqlite|postgres|both] [--quick] [--metrics]`
 * Prints one JSON line per scenario and a table at the end. Everything runs on
 * 127.0.0.1, is bounded in time, and stops the processes it starts.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const only = arg('scenario');
const storageArg = arg('storage') ?? 'both';
const quick = process.argv.includes('--quick');
// Servers with /metrics on (PARLEY_METRICS_ADDR), scraped every second (see processes.ts).
if (process.argv.includes('--metrics')) process.env['PARLEY_BENCH_METRICS'] = '1';
const secs = quick ? 3 : 8;
const kinds: StorageKind[] = storageArg === 'both' ? ['sqlite', 'postgres'] : [storageArg as StorageKind];

const plan: Array<{ name: string; run: () => Promise<Result> }> = [];
for (const kind of kinds) {
  plan.push({ name: 'direct-closed', run: () => directClosed(kind, quick ? 100 : 500, secs) });
  if (kind === 'sqlite' || !quick) {
    plan.push({ name: 'direct-open', run: () => directOpen(kind, 500, 100, secs) });
    plan.push({ name: 'direct-open', run: () => directOpen(kind, 500, 1000, secs) });
    plan.push({ name: 'group-fanout', run: () => groupFanout(kind, quick ? 100 : 500, quick ? 50 : 240, secs) });
    plan.push({ name: 'idle', run: () => idle(kind, quick ? 1000 : 10_000) });
    plan.push({ name: 'catch-up', run: () => catchUp(kind, quick ? 2000 : 10_000) });
  }
}
plan.unshift({ name: 'relay-closed', run: () => relayClosed(quick ? 100 : 500, secs) });
// Cluster mode (PostgreSQL + NATS): the same closed loop over 1, 2 and 3 server processes.
if (kinds.includes('postgres')) {
  for (const nodes of [1, 2, 3]) plan.push({ name: 'cluster', run: () => directClosed('postgres', quick ? 100 : 500, secs, nodes) });
}

const results: Result[] = [];
for (const step of plan) {
  if (only && step.name !== only && !(only === 'direct-closed' && step.name === 'relay-closed') && !(only === 'cluster' && step.name === 'cluster')) continue;
  const r = await step.run();
  results.push(r);
  console.log(JSON.stringify(r));
}

const relay = results.find((r) => r.scenario === 'relay-closed');
console.log('\n| scenario | storage | params | delivered/s | p50 ms | p99 ms | max ms | server CPU ms / 1,000 | peak RSS MB | lost | dup | notes |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of results) {
  const notes: string[] = [];
  if (r.scenario === 'direct-closed' && relay) notes.push(`${Math.round((r.deliveredPerS / relay.deliveredPerS) * 100)}% of relay`);
  if (r.extra?.['kbPerConnection'] !== undefined) notes.push(`${String(r.extra['kbPerConnection'])} KB/conn`);
  if (r.extra?.['drainSeconds'] !== undefined) notes.push(`drained in ${String(r.extra['drainSeconds'])} s`);
  if (r.extra?.['errors']) notes.push(`${String(r.extra['errors'])} errors`);
  if (r.extra?.['offeredPerS'] !== undefined) notes.push(`offered ${String(r.extra['offeredPerS'])}/s`);
  if (r.extra?.['loadgenCpuMsPer1000'] !== undefined) notes.push(`load generator ${String(r.extra['loadgenCpuMsPer1000'])} ms CPU / 1,000`);
  const p = Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  console.log(`| ${r.scenario} | ${r.storage} | ${p} | ${r.deliveredPerS} | ${r.p50} | ${r.p99} | ${r.max} | ${r.cpuMsPer1000} | ${r.peakRssMB} | ${r.lost} | ${r.duplicated} | ${notes.join('; ')} |`);
}
