import { z } from 'zod';
import { ERROR_CODE_LIST } from './errors.js';
import { BlobDigestSchema, DeviceIdSchema, GroupIdSchema, UserIdSchema } from './ids.js';
import { EpochSchema, RequestIdSchema, SeqSchema } from './schemas.js';

/**
 * WebSocket frames. Every frame is one binary WebSocket message:
 *
 *   byte 0       frame format (FRAME_FORMAT = 1)
 *   bytes 1..4   header length H, uint32 big-endian
 *   bytes 5..    H bytes of UTF-8 JSON header, validated by the schemas below
 *   rest         payload: opaque bytes (MLS messages), possibly several parts
 *                whose lengths the header lists in `parts`
 *
 * Ciphertext is never base64-encoded or parsed as JSON.
 */

export const FRAME_FORMAT = 1;
export const FRAME_PREFIX = 5;
export const MAX_HEADER_BYTES = 256 * 1024;
/** Largest E2EE group, in devices (larger audiences are channels); also caps a commit's Welcome recipients. */
export const MAX_GROUP_DEVICES = 2000;

const Parts = z.array(z.number().int().min(0)).min(1).max(3);
const DeviceList = z
  .array(DeviceIdSchema)
  .max(MAX_GROUP_DEVICES)
  .refine((ids) => new Set(ids).size === ids.length, 'device ids must be unique');

/* ---------- client → server ---------- */

export const HelloFrameSchema = z.object({
  t: z.literal('hello'),
  versions: z.array(z.number().int().min(1).max(0xffff)).min(1).max(16),
  token: z.string().min(1).max(256),
});

/** An application or proposal message for a group. */
export const SendFrameSchema = z.object({
  t: z.literal('send'),
  rid: RequestIdSchema,
  group: GroupIdSchema,
  /** Encrypted attachments this message refers to (keeps them from garbage collection). */
  blobs: z.array(BlobDigestSchema).max(32).optional(),
  /**
   * A cumulative acknowledgement for the same group riding on this frame, with
   * exactly the meaning of an `ack` frame: a reply usually follows a receipt,
   * so conversations need few separate acks.
   */
  ack: SeqSchema.optional(),
  /**
   * Nothing for the recipients to show (Moments traffic other than a like or comment for the
   * post's author, docs/moments.md): stored and delivered as usual, but it wakes no offline
   * device with a push. Absent: it may.
   */
  silent: z.literal(true).optional(),
});

/**
 * A commit. The server cannot read an encrypted handshake, so the client states
 * the member device list the commit produces; parts are [commit, welcome, groupInfo]
 * (a zero length means absent).
 */
export const CommitFrameSchema = z.object({
  t: z.literal('commit'),
  rid: RequestIdSchema,
  group: GroupIdSchema,
  devices: DeviceList.refine((d) => d.length >= 1, 'a group needs at least one device'),
  welcomeTo: DeviceList,
  parts: Parts,
});

/** Cumulative acknowledgement: everything in `group` up to and including `seq` is stored. */
export const AckFrameSchema = z.object({
  t: z.literal('ack'),
  group: GroupIdSchema,
  seq: SeqSchema,
});

/**
 * Stops delivery of a group to this device, whether or not another member
 * commits its removal: a device can always get out of a group it was put in.
 * The group's other members still list it until someone commits the removal.
 */
export const LeaveFrameSchema = z.object({ t: z.literal('leave'), rid: RequestIdSchema, group: GroupIdSchema });

export const PingFrameSchema = z.object({ t: z.literal('ping'), rid: RequestIdSchema });

/** Largest typing payload (one MLS application message carrying a `typing` content). */
export const MAX_TYPING_BYTES = 4096;

/**
 * Ephemeral: one part, an MLS application message whose plaintext is a
 * `typing` content. The server forwards it to the group's other member
 * devices that are connected at that moment and drops it otherwise: it is
 * never stored, never acknowledged, never delivered late. No `rid` and no
 * reply; only a refusal (not a member, too large, not an MLS application
 * message) comes back as an error frame. Excess beyond a few per second per
 * device is dropped silently.
 */
export const TypingFrameSchema = z.object({ t: z.literal('typing'), group: GroupIdSchema });

/** Largest rejoin request payload (a signed request, see rejoinRequestMessage). */
export const MAX_REJOIN_BYTES = 1024;

/**
 * Ephemeral, like typing: a device whose MLS state for `group` is lost or
 * broken asks its fellow members to re-add it. One part: the request
 * (JSON `{ at, nonce, sig }`, see rejoinRequestMessage), signed with the
 * device's key. The server checks that the sender is one of the group's
 * devices, rate-limits it, and forwards it to the other member devices that
 * are connected right now (with the sender's user and device id); nothing is
 * stored or acknowledged. No reply; only a refusal comes back as an error.
 */
export const RejoinFrameSchema = z.object({ t: z.literal('rejoin'), group: GroupIdSchema });

export const ClientFrameSchema = z.discriminatedUnion('t', [
  HelloFrameSchema,
  SendFrameSchema,
  CommitFrameSchema,
  AckFrameSchema,
  LeaveFrameSchema,
  PingFrameSchema,
  TypingFrameSchema,
  RejoinFrameSchema,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
export type HelloFrame = z.infer<typeof HelloFrameSchema>;
export type SendFrame = z.infer<typeof SendFrameSchema>;
export type CommitFrame = z.infer<typeof CommitFrameSchema>;
export type AckFrame = z.infer<typeof AckFrameSchema>;
export type LeaveFrame = z.infer<typeof LeaveFrameSchema>;
export type TypingFrame = z.infer<typeof TypingFrameSchema>;

/* ---------- server → client ---------- */

export const ReadyFrameSchema = z.object({
  t: z.literal('ready'),
  version: z.number().int(),
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
  keyPackages: z.object({ available: z.number().int(), low: z.boolean() }),
});

export const OkFrameSchema = z.object({
  t: z.literal('ok'),
  rid: RequestIdSchema,
  seq: SeqSchema.optional(),
  epoch: EpochSchema.optional(),
});

export const ErrorFrameSchema = z.object({
  t: z.literal('error'),
  rid: RequestIdSchema.optional(),
  code: z.enum(ERROR_CODE_LIST as [string, ...string[]]),
  message: z.string(),
  retryable: z.boolean(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const MessageKindSchema = z.enum(['application', 'proposal', 'commit', 'welcome']);
export type MessageKind = z.infer<typeof MessageKindSchema>;

/**
 * A delivered group message. For kind "welcome" the payload has parts
 * [welcome, groupInfo]; otherwise one part, the MLS message.
 */
export const MsgFrameSchema = z.object({
  t: z.literal('msg'),
  group: GroupIdSchema,
  seq: SeqSchema,
  kind: MessageKindSchema,
  epoch: EpochSchema,
  parts: Parts.optional(),
});

/** Sent once the backlog present at connect time has been delivered. */
export const SyncedFrameSchema = z.object({ t: z.literal('synced') });

export const KeyPackagesLowFrameSchema = z.object({ t: z.literal('key_packages_low'), available: z.number().int() });

export const PongFrameSchema = z.object({ t: z.literal('pong'), rid: RequestIdSchema });

/**
 * A set of devices changed. Without `userId`: this user's own (a new device
 * was approved and is ready to be added, or one was revoked) — reconcile
 * conversations with the device list now. With `userId`: a device of another
 * user who shares a group with this device was revoked (or the user started
 * over): look that user up in the directory and reconcile the shared groups.
 */
export const DevicesChangedFrameSchema = z.object({ t: z.literal('devices_changed'), userId: UserIdSchema.optional() });

/**
 * A member's typing message, forwarded live (see TypingFrameSchema): one
 * part, the opaque MLS application message; `epoch` as read from its framing.
 * Decrypting it is optional — a receiver that cannot (its epoch moved) drops it.
 */
export const TypingServerFrameSchema = z.object({ t: z.literal('typing'), group: GroupIdSchema, epoch: EpochSchema });

/**
 * A member device's rejoin request, forwarded live (see RejoinFrameSchema):
 * `user`/`device` as the server authenticated the sender; one part, the
 * signed request. Receivers verify the signature with the directory's key.
 */
export const RejoinServerFrameSchema = z.object({ t: z.literal('rejoin'), group: GroupIdSchema, user: UserIdSchema, device: DeviceIdSchema });

export const ServerFrameSchema = z.discriminatedUnion('t', [
  ReadyFrameSchema,
  OkFrameSchema,
  ErrorFrameSchema,
  MsgFrameSchema,
  SyncedFrameSchema,
  KeyPackagesLowFrameSchema,
  PongFrameSchema,
  DevicesChangedFrameSchema,
  TypingServerFrameSchema,
  RejoinServerFrameSchema,
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;
export type MsgFrame = z.infer<typeof MsgFrameSchema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;
export type ReadyFrame = z.infer<typeof ReadyFrameSchema>;
export type TypingServerFrame = z.infer<typeof TypingServerFrameSchema>;
export type RejoinFrame = z.infer<typeof RejoinFrameSchema>;
export type RejoinServerFrame = z.infer<typeof RejoinServerFrameSchema>;

/* ---------- codec ---------- */

export class FrameError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrameError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a header object and optional payload parts into one binary frame (one allocation). */
export function encodeFrame(header: object, payload: readonly Uint8Array[] = []): Uint8Array {
  const json = JSON.stringify(header);
  let payloadLength = 0;
  for (const p of payload) payloadLength += p.length;
  // Headers are nearly always ASCII (one byte per code unit): try the exact size first.
  let out = new Uint8Array(FRAME_PREFIX + json.length + payloadLength);
  const first = encoder.encodeInto(json, out.subarray(FRAME_PREFIX, FRAME_PREFIX + json.length));
  let written = first.written;
  if (first.read < json.length) {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit; the unused tail is cut off below.
    out = new Uint8Array(FRAME_PREFIX + json.length * 3 + payloadLength);
    written = encoder.encodeInto(json, out.subarray(FRAME_PREFIX)).written;
  }
  out[0] = FRAME_FORMAT;
  out[1] = (written >>> 24) & 0xff;
  out[2] = (written >>> 16) & 0xff;
  out[3] = (written >>> 8) & 0xff;
  out[4] = written & 0xff;
  let o = FRAME_PREFIX + written;
  for (const p of payload) {
    out.set(p, o);
    o += p.length;
  }
  return o === out.length ? out : out.subarray(0, o);
}

export interface RawFrame {
  header: unknown;
  payload: Uint8Array;
}

/** Splits a binary frame into its JSON header (unvalidated) and payload. */
export function splitFrame(data: Uint8Array): RawFrame {
  if (data.length < FRAME_PREFIX) throw new FrameError('frame too short');
  if (data[0] !== FRAME_FORMAT) throw new FrameError(`unknown frame format ${data[0]}`);
  const headerLength = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  if (headerLength > MAX_HEADER_BYTES) throw new FrameError('frame header too large');
  if (FRAME_PREFIX + headerLength > data.length) throw new FrameError('frame header overruns frame');
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(data.subarray(FRAME_PREFIX, FRAME_PREFIX + headerLength)));
  } catch (cause) {
    throw new FrameError('frame header is not valid UTF-8 JSON', { cause });
  }
  return { header, payload: data.subarray(FRAME_PREFIX + headerLength) };
}

/** Splits a payload by the part lengths a header declared; throws if they do not add up. */
export function splitParts(payload: Uint8Array, parts: readonly number[]): Uint8Array[] {
  let total = 0;
  for (const p of parts) total += p;
  if (total !== payload.length) throw new FrameError('payload parts do not add up');
  const out: Uint8Array[] = [];
  let o = 0;
  for (const p of parts) {
    out.push(payload.subarray(o, o + p));
    o += p;
  }
  return out;
}

export type DecodeResult<T> = { ok: true; frame: T; payload: Uint8Array } | { ok: false; error: string };

function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array): DecodeResult<T> {
  let raw: RawFrame;
  try {
    raw = splitFrame(data);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : 'invalid frame' };
  }
  const parsed = schema.safeParse(raw.header);
  if (!parsed.success) return { ok: false, error: `invalid frame header: ${z.prettifyError(parsed.error).slice(0, 300)}` };
  return { ok: true, frame: parsed.data, payload: raw.payload };
}

export function decodeClientFrame(data: Uint8Array): DecodeResult<ClientFrame> {
  return decodeWith(ClientFrameSchema, data);
}

export function decodeServerFrame(data: Uint8Array): DecodeResult<ServerFrame> {
  return decodeWith(ServerFrameSchema, data);
}
