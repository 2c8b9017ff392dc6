/**
 * What the server publishes on the bus for a device. One tag byte, then:
 * - deliver: group id length (uint8), group id (ASCII), seq (float64 BE), an encoded server frame;
 *   with a store time (tag 5), the wall-clock milliseconds (float64 BE) it was stored at follow the seq;
 * - notice: an encoded server frame not tied to a group log (e.g. key_packages_low);
 * - revoked: nothing (the device was revoked; close its connections);
 * - recheck: nothing (sessions of the device may have ended — a password change
 *   that signs out other sessions: look the connection's session up now);
 * - ephemeral: an encoded server frame (a typing frame) written only to a connection that is
 *   live at that moment — never held while a backlog replays, never stored.
 */
export type BusEvent =
  /**
   * `storedAt`: when the message was stored, on this process's `performance.now()` clock (for
   * the delivery-latency metric). Across processes it travels as wall-clock time and is
   * converted back on arrival, so it is as exact as the machines' clocks agree.
   */
  | { type: 'deliver'; group: string; seq: number; frame: Uint8Array; storedAt?: number }
  | { type: 'notice'; frame: Uint8Array }
  | { type: 'revoked' }
  | { type: 'recheck' }
  | { type: 'ephemeral'; frame: Uint8Array };

const DELIVER = 1;
const NOTICE = 2;
const REVOKED = 3;
const RECHECK = 4;
const DELIVER_TIMED = 5;
const EPHEMERAL = 6;

const ascii = new TextEncoder();
const unascii = new TextDecoder();

export function encodeBusEvent(event: BusEvent): Uint8Array {
  if (event.type === 'revoked') return Uint8Array.of(REVOKED);
  if (event.type === 'recheck') return Uint8Array.of(RECHECK);
  if (event.type === 'notice' || event.type === 'ephemeral') {
    const out = new Uint8Array(1 + event.frame.length);
    out[0] = event.type === 'notice' ? NOTICE : EPHEMERAL;
    out.set(event.frame, 1);
    return out;
  }
  const g = ascii.encode(event.group);
  if (g.length > 255) throw new RangeError('group id too long');
  const timed = event.storedAt !== undefined;
  const head = 10 + g.length + (timed ? 8 : 0);
  const out = new Uint8Array(head + event.frame.length);
  out[0] = timed ? DELIVER_TIMED : DELIVER;
  out[1] = g.length;
  out.set(g, 2);
  const view = new DataView(out.buffer);
  view.setFloat64(2 + g.length, event.seq);
  if (event.storedAt !== undefined) view.setFloat64(10 + g.length, Date.now() - (performance.now() - event.storedAt));
  out.set(event.frame, head);
  return out;
}

export function decodeBusEvent(data: Uint8Array): BusEvent | undefined {
  const tag = data[0];
  if (tag === REVOKED && data.length === 1) return { type: 'revoked' };
  if (tag === RECHECK && data.length === 1) return { type: 'recheck' };
  if (tag === NOTICE && data.length > 1) return { type: 'notice', frame: data.subarray(1) };
  if (tag === EPHEMERAL && data.length > 1) return { type: 'ephemeral', frame: data.subarray(1) };
  if ((tag === DELIVER || tag === DELIVER_TIMED) && data.length > 2) {
    const gl = data[1] ?? 0;
    const head = 10 + gl + (tag === DELIVER_TIMED ? 8 : 0);
    if (data.length <= head) return undefined;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const seq = view.getFloat64(2 + gl);
    if (!Number.isSafeInteger(seq)) return undefined;
    const event: BusEvent = { type: 'deliver', group: unascii.decode(data.subarray(2, 2 + gl)), seq, frame: data.subarray(head) };
    if (tag === DELIVER_TIMED) {
      const wall = view.getFloat64(10 + gl);
      if (Number.isFinite(wall)) event.storedAt = performance.now() - (Date.now() - wall);
    }
    return event;
  }
  return undefined;
}
