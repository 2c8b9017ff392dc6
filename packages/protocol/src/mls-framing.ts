/**
 * Reads the cleartext framing of an MLSMessage (RFC 9420 §6) — only the fields
 * the delivery service needs to order messages: wire format, group id, epoch
 * and content type. Everything after them stays opaque; nothing is decrypted.
 */

import { TlsReader } from './tls-reader.js';

export const MLS_VERSION_10 = 1;

export const WIRE_FORMAT = {
  public_message: 1,
  private_message: 2,
  welcome: 3,
  group_info: 4,
  key_package: 5,
} as const;

export const CONTENT_TYPE = { application: 1, proposal: 2, commit: 3 } as const;
export type MlsContentType = 'application' | 'proposal' | 'commit';

export interface MlsFraming {
  wireFormat: 'public_message' | 'private_message';
  groupId: Uint8Array;
  epoch: bigint;
  contentType: MlsContentType;
}

export class MlsFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MlsFramingError';
  }
}

function contentTypeName(v: number): MlsContentType {
  if (v === CONTENT_TYPE.application) return 'application';
  if (v === CONTENT_TYPE.proposal) return 'proposal';
  if (v === CONTENT_TYPE.commit) return 'commit';
  throw new MlsFramingError(`unknown content type ${v}`);
}

/** Parses the framing of a PublicMessage or PrivateMessage; throws MlsFramingError otherwise. */
export function readMlsFraming(message: Uint8Array): MlsFraming {
  const r = new TlsReader(message, MlsFramingError);
  const version = r.u16();
  if (version !== MLS_VERSION_10) throw new MlsFramingError(`unsupported MLS version ${version}`);
  const wire = r.u16();
  if (wire === WIRE_FORMAT.private_message) {
    const groupId = r.vector();
    const epoch = r.u64();
    const contentType = contentTypeName(r.u8());
    if (groupId.length === 0) throw new MlsFramingError('empty group id');
    return { wireFormat: 'private_message', groupId, epoch, contentType };
  }
  if (wire === WIRE_FORMAT.public_message) {
    const groupId = r.vector();
    const epoch = r.u64();
    const senderType = r.u8();
    // Sender (§6): member and external carry a uint32; new_member_* carry nothing.
    if (senderType === 1 || senderType === 2) r.u32();
    else if (senderType !== 3 && senderType !== 4) throw new MlsFramingError(`unknown sender type ${senderType}`);
    r.vector(); // authenticated_data
    const contentType = contentTypeName(r.u8());
    if (groupId.length === 0) throw new MlsFramingError('empty group id');
    return { wireFormat: 'public_message', groupId, epoch, contentType };
  }
  throw new MlsFramingError(`wire format ${wire} is not a group message`);
}

/** Checks that bytes start like an MLS Welcome (version + wire format); the rest is opaque. */
export function isMlsWelcome(message: Uint8Array): boolean {
  return message.length > 4 && message[0] === 0 && message[1] === MLS_VERSION_10 && message[2] === 0 && message[3] === WIRE_FORMAT.welcome;
}

/** Checks that bytes start like an MLS GroupInfo. */
export function isMlsGroupInfo(message: Uint8Array): boolean {
  return message.length > 4 && message[0] === 0 && message[1] === MLS_VERSION_10 && message[2] === 0 && message[3] === WIRE_FORMAT.group_info;
}

/** Checks that bytes start like an MLS KeyPackage. */
export function isMlsKeyPackage(message: Uint8Array): boolean {
  return message.length > 4 && message[0] === 0 && message[1] === MLS_VERSION_10 && message[2] === 0 && message[3] === WIRE_FORMAT.key_package;
}

function writeVarint(n: number): Uint8Array {
  if (n < 64) return Uint8Array.of(n);
  if (n < 16384) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  return Uint8Array.of(0x80 | ((n >>> 24) & 0x3f), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/**
 * Builds the framing prefix of a PrivateMessage followed by opaque bytes.
 * Used by tests and the load generator, which send realistic but undecryptable
 * ciphertext; real clients get their bytes from the MLS library.
 */
export function encodePrivateMessageFraming(groupId: Uint8Array, epoch: bigint, contentType: MlsContentType, opaque: Uint8Array): Uint8Array {
  const gidLen = writeVarint(groupId.length);
  const out = new Uint8Array(4 + gidLen.length + groupId.length + 8 + 1 + opaque.length);
  let o = 0;
  out[o++] = 0;
  out[o++] = MLS_VERSION_10;
  out[o++] = 0;
  out[o++] = WIRE_FORMAT.private_message;
  out.set(gidLen, o);
  o += gidLen.length;
  out.set(groupId, o);
  o += groupId.length;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(o, epoch);
  o += 8;
  out[o++] = CONTENT_TYPE[contentType];
  out.set(opaque, o);
  return out;
}

/** Builds a Welcome-shaped message (version + wire format + opaque bytes), for tests. */
export function encodeOpaqueMlsMessage(wireFormat: 'welcome' | 'group_info' | 'key_package', opaque: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + opaque.length);
  out[1] = MLS_VERSION_10;
  out[3] = WIRE_FORMAT[wireFormat];
  out.set(opaque, 4);
  return out;
}
