/**
 * What the server publishes on the bus for a device. One tag byte, then:
 * - deliver: 8-byte mailbox message id (float64 BE) + an encoded server frame;
 * - notice: an encoded server frame not tied to the mailbox (e.g. key_packages_low);
 * - revoked: nothing (the device was revoked; close its connections).
 */
export type BusEvent =
  | { type: 'deliver'; messageId: number; frame: Uint8Array }
  | { type: 'notice'; frame: Uint8Array }
  | { type: 'revoked' };

const DELIVER = 1;
const NOTICE = 2;
const REVOKED = 3;

export function encodeBusEvent(event: BusEvent): Uint8Array {
  if (event.type === 'revoked') return Uint8Array.of(REVOKED);
  if (event.type === 'notice') {
    const out = new Uint8Array(1 + event.frame.length);
    out[0] = NOTICE;
    out.set(event.frame, 1);
    return out;
  }
  const out = new Uint8Array(9 + event.frame.length);
  out[0] = DELIVER;
  new DataView(out.buffer).setFloat64(1, event.messageId);
  out.set(event.frame, 9);
  return out;
}

export function decodeBusEvent(data: Uint8Array): BusEvent | undefined {
  const tag = data[0];
  if (tag === REVOKED && data.length === 1) return { type: 'revoked' };
  if (tag === NOTICE && data.length > 1) return { type: 'notice', frame: data.subarray(1) };
  if (tag === DELIVER && data.length > 9) {
    const messageId = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(1);
    if (!Number.isSafeInteger(messageId)) return undefined;
    return { type: 'deliver', messageId, frame: data.subarray(9) };
  }
  return undefined;
}
