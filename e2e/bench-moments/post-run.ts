import type { Page } from 'playwright-core';
import type { ParleyClient } from '@parley/client';
import type { momentsBench as BenchApi } from './page.js';
import type { StorageProbe } from './storage.js';

declare const momentsBench: typeof BenchApi;

/** Polls `check` until it returns a value (not undefined/false), or gives up after `timeoutMs` (undefined). */
export async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export interface PostRunOptions {
  readonly page: Page;
  readonly devices: readonly ParleyClient[];
  readonly probe: StorageProbe;
  readonly text: string;
  /** Post the photos made in the page (momentsBench.makePhotos), or text only. */
  readonly withPhotos: boolean;
  /** How long to wait for every device to have the post (body read), and then every photo. */
  readonly waitMs: number;
  readonly photoWaitMs: number;
  readonly log: (line: string) => void;
}

/**
 * One post from the browser to every friend, measured: post() in the page
 * (it returns once the references are queued), until the server stores
 * every reference (and what the page sent until then), until
 * each friend device has the post (its body fetched and read: a `moments`
 * event, then `get`), and, with photos, until every device keeps every
 * photo (they download them on arrival). What the server stores for it: the
 * message rows and Welcomes added (polled, each row once) and the new blobs.
 */
export async function measurePost(o: PostRunOptions): Promise<Record<string, unknown>> {
  const { page, devices, probe } = o;
  probe.baseline();
  const poller = setInterval(() => probe.poll(), 100);
  const state: { target?: string } = {};
  const hasIt = new Map<ParleyClient, number>();
  // Posts each device finished reading since t0 (by id): the post's id is known only once post() returns.
  const arrived = new Map<ParleyClient, Map<string, number>>(devices.map((d) => [d, new Map()]));
  const t0 = performance.now();
  const check = async (d: ParleyClient) => {
    const target = state.target;
    if (target === undefined || hasIt.has(d)) return;
    const at = arrived.get(d)?.get(target);
    if (at !== undefined) {
      hasIt.set(d, at);
      return;
    }
    const p = await d.moments.get(target);
    if (p?.state === 'ready' && !hasIt.has(d)) hasIt.set(d, performance.now() - t0);
  };
  const onEvent = async (d: ParleyClient, postId: string | undefined) => {
    if (postId === undefined || arrived.get(d)?.has(postId) === true) return;
    const p = await d.moments.get(postId);
    if (p?.state === 'ready' && arrived.get(d)?.has(postId) === false) arrived.get(d)?.set(postId, performance.now() - t0);
    await check(d);
  };
  const offs = devices.map((d) => d.on('moments', (e) => void onEvent(d, e.kind === 'post' ? e.postId : undefined)));
  // Error events meanwhile, by code and error name/code (never a message's content: the SDK's errors carry none).
  const errors = new Map<string, number>();
  for (const d of devices) {
    offs.push(
      d.on('error', (e) => {
        const inner = e.error as Error & { code?: string };
        const key = `${e.code}/${inner.name}${inner.code === undefined ? '' : `:${inner.code}`}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }),
    );
  }
  // Files each device keeps already (its own posts' photos, its other device's): the post's come on top.
  const keptBefore = o.withPhotos ? await Promise.all(devices.map(async (d) => (await d.mediaUsage()).files)) : [];
  try {
    const sentBefore = await page.evaluate(() => momentsBench.sentSoFar());
    const r = await page.evaluate(([t, photos]) => momentsBench.post(t, photos), [o.text, o.withPhotos] as const);
    const returned = performance.now() - t0;
    state.target = r.postId;
    await Promise.all(devices.map(check));
    // One reference per friend in the audience, in the pair's group (the author's other devices are members there too).
    const expectedRows = r.sentTo ?? 0;
    const stored = await until(async () => (probe.since().messages >= expectedRows ? performance.now() - t0 : undefined), 60_000, 100);
    // post() returns once the references are queued; they leave the page in the background.
    const sentAfter = await page.evaluate(() => momentsBench.sentSoFar());
    await until(async () => {
      await Promise.all(devices.map(check));
      return hasIt.size === devices.length;
    }, o.waitMs, 500);
    const s = probe.since();
    const states = new Map<string, number>();
    for (const d of devices) {
      const st = (await d.moments.get(r.postId))?.state ?? 'missing';
      states.set(st, (states.get(st) ?? 0) + 1);
    }
    const times = [...hasIt.values()].sort((a, b) => a - b);
    const at = (q: number) => (times.length === 0 ? null : round((times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0) / 1000));
    const result: Record<string, unknown> = {
      bench: 'moments-post',
      photos: r.photos,
      photoBytes: r.photoBytes,
      thumbnailBytes: r.thumbnailBytes,
      sentTo: r.sentTo,
      devices: devices.length,
      postSeconds: round(r.ms / 1000, 3),
      allReferencesStoredSeconds: stored === undefined ? null : round(stored / 1000),
      devicesWithPost: times.length,
      postStates: Object.fromEntries(states),
      errors: Object.fromEntries(errors),
      deviceHasPostSeconds: { p50: at(0.5), p90: at(0.9), last: at(1) },
      pageSent: { frames: sentAfter.frames - sentBefore.frames, frameBytes: sentAfter.frameBytes - sentBefore.frameBytes, uploads: sentAfter.uploads - sentBefore.uploads, uploadBytes: sentAfter.uploadBytes - sentBefore.uploadBytes },
      server: { ...s, bytesPerPost: s.messageBytes + s.welcomeBytes + s.blobBytes, messageBytesPerReference: round(s.messageBytes / Math.max(1, s.messages), 0) },
      returnedSeconds: round(returned / 1000, 3),
    };
    console.log(JSON.stringify(result));
    if (o.withPhotos && r.photos > 0) {
      // Each device then downloads and keeps every photo: how far that got within the wait.
      let complete = 0;
      let photosKept = 0;
      const all = await until(async () => {
        const kept = await Promise.all(devices.map(async (d, i) => (await d.mediaUsage()).files - (keptBefore[i] ?? 0)));
        complete = kept.filter((n) => n >= r.photos).length;
        photosKept = kept.reduce((a, n) => a + Math.min(n, r.photos), 0);
        o.log(`${complete} of ${devices.length} devices keep every photo`);
        return complete === devices.length ? performance.now() - t0 : undefined;
      }, o.photoWaitMs, 5000);
      const photos = { bench: 'moments-photos', devices: devices.length, devicesWithEveryPhoto: complete, allPhotosOnAllDevicesSeconds: all === undefined ? null : round(all / 1000, 1), afterSeconds: round((performance.now() - t0) / 1000, 1), photosKept, photosToKeep: devices.length * r.photos, photoBytesKept: Math.round((photosKept * r.photoBytes) / r.photos) };
      console.log(JSON.stringify(photos));
      result['photosOnDevices'] = photos;
    }
    return result;
  } finally {
    clearInterval(poller);
    for (const off of offs) off();
  }
}
