import { createClient, IndexedDbStore } from '@parley/client';
import type { ParleyClient } from '@parley/client';

/**
 * The browser side of `npm run bench:browser-moments` (e2e/bench-moments.ts
 * bundles this file and serves it next to the web app, same origin): the
 * client SDK on the web app's own IndexedDB database, so what it stores is
 * what the Moments tab shows afterwards. It holds the web app's device lock
 * while open (one client per device), and counts the bytes this page sends
 * (WebSocket frames, blob uploads) so a post's upload size can be told.
 */

const DATABASE = 'parley';
const DEVICE_LOCK = 'parley-device';

let client: ParleyClient | undefined;
let store: IndexedDbStore | undefined;
let releaseLock: (() => void) | undefined;
const sent = { frames: 0, frameBytes: 0, uploads: 0, uploadBytes: 0 };

const realSend = WebSocket.prototype.send;
WebSocket.prototype.send = function send(this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
  sent.frames++;
  sent.frameBytes += typeof data === 'string' ? new TextEncoder().encode(data).length : data instanceof Blob ? data.size : data.byteLength;
  return realSend.call(this, data);
};
const realFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const body = init?.body;
  if (init?.method === 'PUT' && body instanceof Uint8Array) {
    sent.uploads++;
    sent.uploadBytes += body.byteLength;
  } else if (init?.method === 'PUT' && body instanceof Blob) {
    sent.uploads++;
    sent.uploadBytes += body.size;
  }
  return realFetch(input, init);
};

function need(): ParleyClient {
  if (client === undefined) throw new Error('not open');
  return client;
}

async function open(): Promise<void> {
  await new Promise<void>((resolve) => {
    void navigator.locks.request(DEVICE_LOCK, () => {
      resolve();
      return new Promise<void>((r) => (releaseLock = r));
    });
  });
  store = await IndexedDbStore.open(DATABASE);
  client = await createClient({ serverUrl: location.origin, store, deviceName: 'Benchmark browser' });
}

async function close(): Promise<void> {
  await client?.close();
  await store?.close();
  client = undefined;
  store = undefined;
  releaseLock?.();
}

async function register(username: string, password: string): Promise<void> {
  await need().register(username, password);
  await need().whenSynced();
}

async function addContacts(usernames: readonly string[], parallel: number): Promise<void> {
  const c = need();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < usernames.length; i = next++) await c.contacts.add(usernames[i] ?? '');
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

async function friends(): Promise<number> {
  return (await need().moments.friends()).length;
}

interface Photo {
  bytes: Uint8Array;
  width: number;
  height: number;
  thumbnail: Uint8Array;
}
const photos: Photo[] = [];

/** Noise compresses like nothing else: a JPEG of it at this size and quality is about `targetBytes`. */
async function makePhotos(count: number, width: number, height: number, quality: number): Promise<number[]> {
  photos.length = 0;
  for (let i = 0; i < count; i++) {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    if (ctx === null) throw new Error('no 2d canvas');
    const image = ctx.createImageData(width, height);
    for (let at = 0; at < image.data.length; at += 65_536) crypto.getRandomValues(image.data.subarray(at, Math.min(image.data.length, at + 65_536)));
    for (let p = 3; p < image.data.length; p += 4) image.data[p] = 255;
    ctx.putImageData(image, 0, 0);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
    const small = new OffscreenCanvas(320, Math.round((320 * height) / width));
    small.getContext('2d')?.drawImage(canvas, 0, 0, small.width, small.height);
    const thumb = await small.convertToBlob({ type: 'image/jpeg', quality: 0.5 });
    photos.push({ bytes: new Uint8Array(await blob.arrayBuffer()), width, height, thumbnail: new Uint8Array(await thumb.arrayBuffer()) });
  }
  return photos.map((p) => p.bytes.length);
}

function photoInput(p: Photo) {
  return { bytes: p.bytes, mimeType: 'image/jpeg' as const, width: p.width, height: p.height, thumbnail: { mimeType: 'image/jpeg' as const, data: p.thumbnail } };
}

/** Posts to all friends (with every photo made, or text only): the time post() takes, and what this page sent meanwhile. */
async function post(
  text: string,
  withPhotos: boolean,
): Promise<{ postId: string; ms: number; sentTo: number | null; photos: number; photoBytes: number; frames: number; frameBytes: number; uploads: number; uploadBytes: number; thumbnailBytes: number }> {
  const c = need();
  const before = { ...sent };
  const chosen = withPhotos ? photos : [];
  const t0 = performance.now();
  const p = await c.moments.post({ text, location: 'Benchmark Bay', photos: chosen.map(photoInput) });
  const ms = performance.now() - t0;
  return {
    postId: p.id,
    ms,
    sentTo: p.sentTo,
    photos: chosen.length,
    photoBytes: chosen.reduce((n, ph) => n + ph.bytes.length, 0),
    frames: sent.frames - before.frames,
    frameBytes: sent.frameBytes - before.frameBytes,
    uploads: sent.uploads - before.uploads,
    uploadBytes: sent.uploadBytes - before.uploadBytes,
    thumbnailBytes: chosen.reduce((n, ph) => n + ph.thumbnail.length, 0),
  };
}

/** Bytes sent since the page loaded (the references may still be going out after post() returned). */
function sentSoFar() {
  return { ...sent };
}

/** Posts on this device's timeline, and how many of them are ready (body fetched and read). */
async function timelineCount(): Promise<{ posts: number; ready: number }> {
  const c = need();
  let posts = 0;
  let ready = 0;
  let before: string | null = null;
  for (;;) {
    const page = await c.moments.timeline({ before, limit: 200 });
    posts += page.posts.length;
    ready += page.posts.filter((p) => p.state === 'ready').length;
    if (page.next === null || page.posts.length === 0) break;
    before = page.next;
  }
  return { posts, ready };
}

/** One thumbnail-sized JPEG for the friends' posts (made here: a real image the timeline can show). */
async function smallJpeg(width: number, height: number): Promise<number[]> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('no 2d canvas');
  const g = ctx.createLinearGradient(0, 0, width, height);
  g.addColorStop(0, '#2a6f97');
  g.addColorStop(1, '#f4a261');
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, width, height);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.7 });
  return [...new Uint8Array(await blob.arrayBuffer())];
}

export const momentsBench = { open, close, register, addContacts, friends, makePhotos, post, sentSoFar, timelineCount, smallJpeg };
(globalThis as { momentsBench?: typeof momentsBench }).momentsBench = momentsBench;
