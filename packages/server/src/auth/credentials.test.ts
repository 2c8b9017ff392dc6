import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/protocol';
import { argon2Gate, ARGON2_CONCURRENCY, hashPassword, verifyPassword, WorkGate } from './credentials.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('WorkGate', () => {
  it('runs at most `concurrency` tasks at once, the rest in arrival order', async () => {
    const gate = new WorkGate(2, 10);
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const all = gates.map((d, i) =>
      gate.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await d.promise;
        running--;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(gate.load, { running: 2, waiting: 3 });
    gates[1]?.resolve();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2], 'a finished task hands its slot to the first waiter');
    for (const d of gates) d.resolve();
    assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4]);
    assert.equal(most, 2);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('refuses with overloaded once the queue is full, and a failed task frees its slot', async () => {
    const gate = new WorkGate(1, 1);
    const first = deferred();
    const a = gate.run(() => first.promise.then(() => 'a'));
    const b = gate.run(async () => 'b');
    await assert.rejects(
      gate.run(async () => 'c'),
      (err: unknown) => err instanceof ParleyError && err.code === 'overloaded',
    );
    first.reject(new Error('boom'));
    await assert.rejects(a, /boom/);
    assert.equal(await b, 'b');
    assert.equal(await gate.run(async () => 'd'), 'd');
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});

describe('passwords', () => {
  const params = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

  it('hash and verify argon2id through the process-wide gate', async () => {
    const hash = await hashPassword('correct horse battery', params);
    assert.match(hash, /^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
    assert.equal(await verifyPassword(hash, 'wrong horse battery'), false);
    assert.equal(await verifyPassword('not a hash', 'x'), false, 'an unreadable hash is a wrong password, not an error');
  });

  it('never runs more than ARGON2_CONCURRENCY computations at once', async () => {
    let most = 0;
    const done = Array.from({ length: 8 }, (_, i) =>
      hashPassword(`password number ${i}`, params).then(() => {
        most = Math.max(most, argon2Gate.load.running);
      }),
    );
    most = Math.max(most, argon2Gate.load.running);
    assert.equal(argon2Gate.load.running, ARGON2_CONCURRENCY);
    assert.equal(argon2Gate.load.waiting, 8 - ARGON2_CONCURRENCY);
    await Promise.all(done);
    assert.ok(most <= ARGON2_CONCURRENCY);
    assert.deepEqual(argon2Gate.load, { running: 0, waiting: 0 });
  });
});
