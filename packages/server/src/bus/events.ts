/**
 * What the server publishes on the bus for a device. One tag byte, then:
 * - deliver: group id length (uint8), group id (ASCII), seq (float64 BE), an encoded server frame;
 * - notice: an encoded server frame not tied to a group log (e.g. key_packages_low);
 * - revoked: nothing (the device was revoked; close its connections);
 * - recheck: nothing (sessions of the device may have ended — a password change
 *   that signs out other sessions: look the connection's session up now).
 */
export type BusEvent =
  | { type: 'deliver'; group: string; seq: number; frame: Uint8Array }
  | { type: 'notice'; frame: Uint8Array }
  | { type: 'revoked' }
  | { type: 'recheck' };

const DELIVER = 1;
const NOTICE = 2;
const REVOKED = 3;
const RECHECK = 4;

const ascii = new TextEncoder();
const unascii = new TextDecoder();

export function encodeBusEvent(event: BusEvent): Uint8Array {
  if (event.type === 'revoked') return Uint8Array.of(REVOKED);
  if (event.type === 'recheck') return Uint8Array.of(RECHECK);
  if (event.type === 'notice') {
    const out = new Uint8Array(1 + event.frame.length);
    out[0] = NOTICE;
    out.set(event.frame, 1);
    return out;
  }
  const g = ascii.encode(event.group);
  if (g.length > 255) throw new RangeError('group id too long');
  const out = new Uint8Array(2 + g.length + 8 + event.frame.length);
  out[0] = DELIVER;
  out[1] = g.length;
  out.set(g, 2);
  new DataView(out.buffer).setFloat64(2 + g.length, event.seq);
  out.set(event.frame, 10 + g.length);
  return out;
}

export function decodeBusEvent(data: Uint8Array): BusEvent | undefined {
  const tag = data[0];
  if (tag === REVOKED && data.length === 1) return { type: 'revoked' };
  if (tag === RECHECK && data.length === 1) return { type: 'recheck' };
  if (tag === NOTICE && data.length > 1) return { type: 'notice', frame: data.subarray(1) };
  if (tag === DELIVER && data.length > 2) {
    const gl = data[1] ?? 0;
    if (data.length <= 10 + gl) return undefined;
    const seq = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(2 + gl);
    if (!Number.isSafeInteger(seq)) return undefined;
    return { type: 'deliver', group: unascii.decode(data.subarray(2, 2 + gl)), seq, frame: data.subarray(10 + gl) };
  }
  return undefined;
}
