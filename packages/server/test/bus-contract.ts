import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DeviceId } from '@parley/protocol';
import type { Bus } from '../src/bus/bus.js';
import type { BusEvent } from '../src/bus/events.js';

/**
 * The bus contract: every adapter passes these. `make` returns two buses that
 * stand for two server processes (the in-process adapter returns the same bus
 * twice); events published on either reach subscribers on both.
 */
export interface BusFixture {
  a: Bus;
  b: Bus;
  cleanup(): Promise<void>;
}

const device = (): DeviceId => randomBytes(16).toString('base64url') as DeviceId;

function collector() {
  const got: BusEvent[] = [];
  let wake: () => void = () => undefined;
  return {
    got,
    handler: (e: BusEvent) => {
      got.push(e);
      wake();
    },
    async until(n: number, ms = 3000): Promise<void> {
      const deadline = Date.now() + ms;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} events, got ${got.length}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 20);
        });
      }
    },
  };
}

async function settle(bus: Bus): Promise<void> {
  // A round trip through the adapter, so that subscriptions and publishes are in effect.
  await bus.health();
}

export function busContract(name: string, make: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    beforeEach(async () => {
      fx = await make();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('delivers every kind of event to the subscribed device, across processes, in order', async () => {
      const d = device();
      const c = collector();
      await fx.b.subscribe(d, c.handler);
      await settle(fx.b);
      const frame = Uint8Array.from(randomBytes(300));
      await fx.a.publish([d], { type: 'deliver', group: 'g1', seq: 1, frame });
      await fx.a.publish([d], { type: 'notice', frame: Uint8Array.of(1, 2) });
      await fx.a.publish([d], { type: 'revoked' });
      await fx.a.publish([d], { type: 'recheck' });
      for (let i = 2; i <= 50; i++) await fx.a.publish([d], { type: 'deliver', group: 'g1', seq: i, frame });
      await settle(fx.a);
      await c.until(53);
      assert.deepEqual(c.got[0], { type: 'deliver', group: 'g1', seq: 1, frame });
      assert.deepEqual(c.got[1], { type: 'notice', frame: Uint8Array.of(1, 2) });
      assert.deepEqual(c.got[2], { type: 'revoked' });
      assert.deepEqual(c.got[3], { type: 'recheck' });
      const seqs = c.got.filter((e) => e.type === 'deliver').map((e) => (e.type === 'deliver' ? e.seq : 0));
      assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('fans one publish out to many devices and to every listener of a device, and to nobody else', async () => {
      const devices = Array.from({ length: 20 }, device);
      const cs = devices.map(() => collector());
      for (let i = 0; i < devices.length; i++) {
        const dev = devices[i];
        const c = cs[i];
        if (dev && c) await (i % 2 ? fx.a : fx.b).subscribe(dev, c.handler);
      }
      const twice = collector();
      const first = devices[0];
      assert.ok(first);
      await fx.a.subscribe(first, twice.handler);
      const bystander = collector();
      await fx.b.subscribe(device(), bystander.handler);
      await settle(fx.a);
      await settle(fx.b);
      await fx.a.publish(devices, { type: 'notice', frame: Uint8Array.of(7) });
      await fx.a.publish([device()], { type: 'notice', frame: Uint8Array.of(8) });
      await settle(fx.a);
      for (const c of cs) await c.until(1);
      await twice.until(1);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(bystander.got.length, 0);
      assert.ok(cs.every((c) => c.got.length === 1));
    });

    it('stops delivering after unsubscribe, and reports health', async () => {
      const d = device();
      const c = collector();
      const sub = await fx.b.subscribe(d, c.handler);
      await settle(fx.b);
      await fx.a.publish([d], { type: 'revoked' });
      await c.until(1);
      await sub.unsubscribe();
      await sub.unsubscribe();
      await settle(fx.b);
      await fx.a.publish([d], { type: 'revoked' });
      await settle(fx.a);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.got.length, 1);
      assert.equal(await fx.a.health(), true);
    });

    it('survives a listener that throws', async () => {
      const d = device();
      const c = collector();
      await fx.b.subscribe(d, () => {
        throw new Error('listener bug');
      });
      await fx.b.subscribe(d, c.handler);
      await settle(fx.b);
      await fx.a.publish([d], { type: 'revoked' });
      await c.until(1);
    });

    it('tells whether a device is connected to any process (the Web Push presence check)', async () => {
      const d = device();
      const other = device();
      assert.equal(await fx.a.connected(d), false);
      const sub = await fx.b.subscribe(d, () => undefined);
      await settle(fx.b);
      assert.equal(await fx.a.connected(d), true, 'connected to the other process');
      assert.equal(await fx.b.connected(d), true, 'connected to this one');
      assert.equal(await fx.a.connected(other), false);
      // the probe is not an event: listeners never see it
      const c = collector();
      await fx.b.subscribe(other, c.handler);
      await settle(fx.b);
      assert.equal(await fx.a.connected(other), true);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(c.got.length, 0);
      await sub.unsubscribe();
      await settle(fx.b);
      assert.equal(await fx.a.connected(d), false, 'gone after unsubscribe');
    });
  });
}
