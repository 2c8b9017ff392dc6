import WebSocket from 'ws';
import { encodeFrame, encodePrivateMessageFraming, type GroupId } from '@parley/protocol';
import { now } from './stats.js';

/**
 * Lightweight protocol clients for load: many per process, opaque payloads of
 * realistic MLS size. Each payload ends with a 16-byte trailer the receivers
 * read: send time (float64 ms), sender index (uint32), message number (uint32).
 */

export const PAYLOAD_BYTES = 340;
export const ACK_DELAY_MS = 50;
const TRAILER = 16;

export interface Delivery {
  sender: number;
  n: number;
  sentAt: number;
  group: string;
  seq: number;
}

export function makePayload(groupBytes: Uint8Array, epoch: number, sender: number, n: number): Uint8Array {
  const body = new Uint8Array(PAYLOAD_BYTES - 30);
  // Fill with non-zero bytes so nothing compresses or dedupes by accident.
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + n) & 0xff;
  const v = new DataView(body.buffer);
  const t = body.length - TRAILER;
  v.setFloat64(t, now());
  v.setUint32(t + 8, sender);
  v.setUint32(t + 12, n);
  return encodePrivateMessageFraming(groupBytes, BigInt(epoch), 'application', body);
}

function readTrailer(payload: Uint8Array): { sentAt: number; sender: number; n: number } {
  const v = new DataView(payload.buffer, payload.byteOffset + payload.length - TRAILER, TRAILER);
  return { sentAt: v.getFloat64(0), sender: v.getUint32(8), n: v.getUint32(12) };
}

const decoder = new TextDecoder();

/**
 * Client frames must be masked, but the mask protects browsers' proxies, not
 * us: an all-zero key (which ws then skips applying) keeps the generator's CPU
 * for the measurement. The relay's clients use the same setting.
 */
const CLIENT_OPTIONS = { perMessageDeflate: false, generateMask: () => undefined } as const;

/** A Parley device speaking the real protocol. Server frames are split without schema checks to keep the generator cheap. */
export class ParleyLoadDevice {
  private ws: WebSocket | undefined;
  private rid = 0;
  private pendingAck = new Map<string, number>();
  private ackScheduled = false;
  okCount = 0;
  errorCount = 0;
  /** Acknowledgements sent as their own frame, and riding on a send. */
  ackFrames = 0;
  ridingAcks = 0;
  lastError = '';
  synced = false;
  onDeliver: ((d: Delivery) => void) | undefined;
  onOk: ((rid: number, seq: number) => void) | undefined;
  onSynced: (() => void) | undefined;

  constructor(
    readonly index: number,
    readonly token: string,
  ) {}

  async connect(url: string): Promise<void> {
    const ws = new WebSocket(url, CLIENT_OPTIONS);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer) => this.onFrame(data));
    const synced = new Promise<void>((resolve) => (this.onSynced = resolve));
    ws.send(encodeFrame({ t: 'hello', versions: [1], token: this.token }));
    await synced;
  }

  private onFrame(data: Buffer): void {
    const hl = data.readUInt32BE(1);
    const header = JSON.parse(decoder.decode(data.subarray(5, 5 + hl))) as { t: string; rid?: number; seq?: number; group?: string; kind?: string; message?: string };
    if (header.t === 'msg') {
      const payload = data.subarray(5 + hl);
      const group = header.group ?? '';
      const seq = header.seq ?? 0;
      this.queueAck(group, seq);
      if (header.kind === 'application' && payload.length >= TRAILER) {
        const tr = readTrailer(payload);
        this.onDeliver?.({ ...tr, group, seq });
      }
    } else if (header.t === 'ok') {
      this.okCount++;
      this.onOk?.(header.rid ?? 0, header.seq ?? 0);
    } else if (header.t === 'error') {
      this.errorCount++;
      this.lastError = header.message ?? '';
    } else if (header.t === 'synced') {
      this.synced = true;
      this.onSynced?.();
    }
  }

  /**
   * Acknowledgements are cumulative, so a client acknowledges a group at most
   * every ACK_DELAY_MS (the protocol's recommendation), not every message.
   */
  private queueAck(group: string, seq: number): void {
    const prev = this.pendingAck.get(group) ?? 0;
    if (seq > prev) this.pendingAck.set(group, seq);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setTimeout(() => {
      this.ackScheduled = false;
      for (const [g, s] of this.pendingAck) {
        this.ackFrames++;
        this.ws?.send(encodeFrame({ t: 'ack', group: g, seq: s }));
      }
      this.pendingAck.clear();
    }, ACK_DELAY_MS);
  }

  /** Like the SDK, a pending acknowledgement for the group rides on the next message sent there. */
  send(group: GroupId, payload: Uint8Array): number {
    const rid = ++this.rid;
    const ack = this.pendingAck.get(group);
    if (ack === undefined) {
      this.ws?.send(encodeFrame({ t: 'send', rid, group }, [payload]));
    } else {
      this.pendingAck.delete(group);
      this.ridingAcks++;
      this.ws?.send(encodeFrame({ t: 'send', rid, group, ack }, [payload]));
    }
    return rid;
  }

  close(): void {
    this.ws?.terminate();
  }
}

/** A client of the bare relay: frames are [uint32 destination][payload]. */
export class RelayLoadDevice {
  private ws: WebSocket | undefined;
  onDeliver: ((d: Delivery) => void) | undefined;

  constructor(readonly index: number) {}

  async connect(url: string): Promise<void> {
    const ws = new WebSocket(`${url}/?id=${this.index}`, CLIENT_OPTIONS);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer) => {
      const payload = data.subarray(4);
      const tr = readTrailer(payload);
      this.onDeliver?.({ ...tr, group: '', seq: tr.n });
    });
  }

  send(dest: number, payload: Uint8Array): void {
    const frame = new Uint8Array(4 + payload.length);
    new DataView(frame.buffer).setUint32(0, dest);
    frame.set(payload, 4);
    this.ws?.send(frame);
  }

  close(): void {
    this.ws?.terminate();
  }
}

/** Opens many connections with bounded concurrency. */
export async function connectAll(items: Array<{ connect(url: string): Promise<void> }>, url: string, concurrency = 200): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item) await item.connect(url);
    }
  });
  await Promise.all(workers);
}
