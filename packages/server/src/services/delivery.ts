import {
  encodeFrame,
  isMlsGroupInfo,
  isMlsWelcome,
  MlsFramingError,
  ParleyError,
  readMlsFraming,
  splitParts,
  toBase64Url,
  type CommitFrame,
  type DeviceId,
  type GroupId,
  type GroupInfoResponse,
  type GroupListResponse,
  type GroupRetentionResponse,
  type MlsFraming,
  type SendFrame,
  type UserId,
} from '@parley/protocol';
import { ceilHour } from '../clock.js';
import type { BusEvent } from '../bus/events.js';
import type { AppContext } from '../context.js';
import { floorMinute } from '../storage/retention.js';
import { StorageError, type QueueQuota } from '../storage/storage.js';

/**
 * The delivery service: orders group messages, stores them in per-device
 * mailboxes and pushes them live. It reads only the MLS framing (group id,
 * epoch, content type); the rest of every message is opaque.
 */

/**
 * Live delivery is best effort: once a message is stored it is acknowledged
 * even if the bus is down, because devices read their backlog on reconnect.
 * Failing the send here would make the client retry and store it twice.
 */
async function push(ctx: AppContext, devices: readonly DeviceId[], event: BusEvent): Promise<void> {
  try {
    await ctx.bus.publish(devices, event);
  } catch (err) {
    ctx.logger.warn({ event: 'bus.publish_failed', devices: devices.length, error: err instanceof Error ? err.message : String(err) }, 'live delivery failed');
  }
}

export async function createGroup(ctx: AppContext, deviceId: DeviceId, groupId: GroupId): Promise<GroupInfoResponse> {
  const g = await ctx.storage.createGroup(groupId, deviceId);
  ctx.logger.debug({ event: 'group.created', groupId }, 'group created');
  return { groupId: g.id, epoch: g.epoch, devices: [deviceId] };
}

async function requireMember(ctx: AppContext, groupId: GroupId, deviceId: DeviceId): Promise<void> {
  // Non-members learn nothing, not even whether the group exists.
  if (!(await ctx.storage.isMember(groupId, deviceId))) throw new ParleyError('not_member', 'not a member of this group');
}

export async function groupInfo(ctx: AppContext, deviceId: DeviceId, groupId: GroupId): Promise<GroupInfoResponse> {
  await requireMember(ctx, groupId, deviceId);
  const g = await ctx.storage.getGroup(groupId);
  if (!g) throw new ParleyError('not_member', 'not a member of this group');
  const devices = await ctx.storage.groupDevices(groupId);
  const info = await ctx.storage.getGroupInfo(groupId);
  const out: GroupInfoResponse = { groupId, epoch: g.epoch, devices, lastSeq: g.lastSeq };
  if (info) out.groupInfo = toBase64Url(info);
  return out;
}

/**
 * Disappearing messages: a member device sets how long the server keeps the
 * group's application messages at most (null: the default), as the settings
 * message at `seq` said. Idempotent, and an older setting (lower seq) changes
 * nothing: every member device reports every setting it processes.
 */
export async function setRetention(ctx: AppContext, deviceId: DeviceId, groupId: GroupId, seconds: number | null, seq: number): Promise<GroupRetentionResponse> {
  const current = await ctx.storage.setGroupRetention(groupId, deviceId, seconds, seq).catch((err: unknown) => {
    throw hideExistence(err);
  });
  ctx.logger.debug({ event: 'group.retention', groupId, seconds: current }, 'group retention');
  return { seconds: current };
}

/**
 * Lead time of retention enforcement: twice the maintenance interval, so
 * that a message is deleted no later than its group's retention after it
 * was stored (see Storage.enforceRetention).
 */
export function retentionLeadSeconds(ctx: AppContext): number {
  return Math.ceil((2 * ctx.config.maintenanceIntervalMs) / 1000);
}

export async function listGroups(ctx: AppContext, deviceId: DeviceId): Promise<GroupListResponse> {
  const groups = await ctx.storage.groupsOfDevice(deviceId);
  return { groups: groups.map((g) => ({ groupId: g.id, epoch: g.epoch })) };
}

function framing(bytes: Uint8Array, group: GroupId): MlsFraming & { epochNumber: number } {
  let f: MlsFraming;
  try {
    f = readMlsFraming(bytes);
  } catch (err) {
    if (err instanceof MlsFramingError) throw new ParleyError('invalid_mls_message', `not an MLS group message: ${err.message}`, { cause: err });
    throw err;
  }
  if (toBase64Url(f.groupId) !== group) throw new ParleyError('invalid_mls_message', 'MLS group id does not match the frame');
  if (f.epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new ParleyError('invalid_mls_message', 'epoch out of range');
  return { ...f, epochNumber: Number(f.epoch) };
}

export interface Accepted {
  seq: number;
  epoch: number;
}

/** The device acting, and the account its bytes are charged to. */
export interface Sender {
  userId: UserId;
  deviceId: DeviceId;
}

function queueQuota(ctx: AppContext, userId: UserId): QueueQuota {
  return { userId, maxBytes: ctx.config.quotas.queuedBytes };
}

/** To a non-member, a group that does not exist and one it is not in look the same. */
function hideExistence(err: unknown): unknown {
  if (err instanceof StorageError && err.kind === 'not_found' && err.detail?.['blob'] === undefined) {
    return new ParleyError('not_member', 'not a member of this group', { cause: err });
  }
  return err;
}

/**
 * Stores and pushes a group message. Its riding acknowledgement (`frame.ack`)
 * goes into the same write as the message, before it, so a sender that had
 * read everything is moved past its own message at once (the message is
 * deleted as soon as every recipient acknowledges it); it counts whatever
 * becomes of the message.
 */
export async function sendMessage(ctx: AppContext, sender: Sender, frame: SendFrame, payload: Uint8Array): Promise<Accepted> {
  let f: ReturnType<typeof framing>;
  try {
    if (payload.length === 0) throw new ParleyError('bad_request', 'empty message');
    f = framing(payload, frame.group);
    if (f.contentType === 'commit') throw new ParleyError('bad_request', 'commits go in a commit frame');
  } catch (err) {
    // The refusal is the answer; an ack that failed too is repeated by the client's next one (acks are cumulative).
    if (frame.ack !== undefined) await acknowledge(ctx, sender.deviceId, frame.group, frame.ack).catch(() => undefined);
    throw err;
  }
  if (frame.ack !== undefined) ctx.trimmer.mark(frame.group);
  const now = ctx.clock.now();
  // An attachment in a group with a retention: its blob goes with it, however soon every device acknowledged the message.
  const blobs = frame.blobs ?? [];
  const retention = blobs.length > 0 ? await ctx.storage.groupRetention(frame.group) : null;
  const retainedUntil = typeof retention === 'number' ? floorMinute(now + retention - retentionLeadSeconds(ctx)) : undefined;
  const r = await ctx.storage
    .appendMessage({
      groupId: frame.group,
      senderDevice: sender.deviceId,
      quota: queueQuota(ctx, sender.userId),
      kind: f.contentType,
      epoch: f.epochNumber,
      payload,
      ack: frame.ack,
      blobs,
      expiresAt: retainedUntil ?? ceilHour(now + ctx.config.retentionSeconds),
      blobKeepUntil: retainedUntil ?? ceilHour(now + ctx.config.blobGraceSeconds),
    })
    .catch((err: unknown) => {
      throw hideExistence(err);
    });
  if (retainedUntil !== undefined) await ctx.storage.capBlobs(blobs, retainedUntil);
  if (r.recipients.length > 0) {
    const out = encodeFrame({ t: 'msg', group: frame.group, seq: r.seq, kind: f.contentType, epoch: f.epochNumber }, [payload]);
    await push(ctx, r.recipients, { type: 'deliver', group: frame.group, seq: r.seq, frame: out, storedAt: performance.now() });
    // Devices not connected get a content-free wake-up (coalesced; sent after this returns, never blocking it), unless the sender says there is nothing to show.
    if (frame.silent !== true) ctx.push.notify(r.recipients);
  }
  return { seq: r.seq, epoch: r.epoch };
}

export async function commit(ctx: AppContext, sender: Sender, frame: CommitFrame, payload: Uint8Array): Promise<Accepted> {
  // Caps: recipients by the frame schema (MAX_GROUP_DEVICES), bytes here; the Welcome is stored once whatever their number.
  if (payload.length > ctx.config.maxFrameBytes) throw new ParleyError('payload_too_large', `a commit with its Welcome and GroupInfo is limited to ${ctx.config.maxFrameBytes} bytes`);
  const members = new Set(frame.devices);
  if (!frame.welcomeTo.every((d) => members.has(d))) throw new ParleyError('bad_request', 'every Welcome recipient must be in the device list');
  let parts: Uint8Array[];
  try {
    parts = splitParts(payload, frame.parts);
  } catch (err) {
    throw new ParleyError('bad_request', 'payload parts do not add up', { cause: err });
  }
  const [commitBytes = new Uint8Array(0), welcome = new Uint8Array(0), info = new Uint8Array(0)] = parts;
  const f = framing(commitBytes, frame.group);
  if (f.contentType !== 'commit') throw new ParleyError('bad_request', 'a commit frame must carry an MLS commit');
  if ((welcome.length > 0) !== (frame.welcomeTo.length > 0)) {
    throw new ParleyError('bad_request', 'a welcome needs recipients and recipients need a welcome');
  }
  if (welcome.length > 0 && !isMlsWelcome(welcome)) throw new ParleyError('invalid_mls_message', 'not an MLS Welcome');
  if (info.length > 0 && !isMlsGroupInfo(info)) throw new ParleyError('invalid_mls_message', 'not an MLS GroupInfo');
  const now = ctx.clock.now();
  const r = await ctx.storage
    .appendCommit({
      groupId: frame.group,
      senderDevice: sender.deviceId,
      quota: queueQuota(ctx, sender.userId),
      epoch: f.epochNumber,
      commit: commitBytes,
      devices: frame.devices,
      welcome: welcome.length > 0 ? { to: frame.welcomeTo, data: welcome } : undefined,
      groupInfo: info.length > 0 ? info : undefined,
      expiresAt: ceilHour(now + ctx.config.retentionSeconds),
    })
    .catch((err: unknown) => {
      throw hideExistence(err);
    });
  // A device re-added by this commit (it lost its state) gets the Welcome, not the commit.
  const commitTo = r.recipients.filter((d) => !r.welcomeRecipients.includes(d));
  if (commitTo.length > 0) {
    const out = encodeFrame({ t: 'msg', group: frame.group, seq: r.seq, kind: 'commit', epoch: f.epochNumber }, [commitBytes]);
    await push(ctx, commitTo, { type: 'deliver', group: frame.group, seq: r.seq, frame: out, storedAt: performance.now() });
  }
  if (r.welcomeRecipients.length > 0) {
    const out = encodeFrame({ t: 'msg', group: frame.group, seq: r.seq, kind: 'welcome', epoch: r.epoch, parts: [welcome.length, info.length] }, [welcome, info]);
    await push(ctx, r.welcomeRecipients, { type: 'deliver', group: frame.group, seq: r.seq, frame: out, storedAt: performance.now() });
    // A Welcome is a new conversation for those devices: wake them as for a message (commits alone wake nobody).
    ctx.push.notify(r.welcomeRecipients);
  }
  ctx.logger.debug({ event: 'group.commit', groupId: frame.group, epoch: r.epoch, devices: frame.devices.length }, 'commit accepted');
  return { seq: r.seq, epoch: r.epoch };
}

/** Stops delivery of the group to this device, whether or not a member commits its removal. */
export async function leave(ctx: AppContext, deviceId: DeviceId, groupId: GroupId): Promise<void> {
  await ctx.storage.leaveGroup(groupId, deviceId).catch((err: unknown) => {
    throw hideExistence(err);
  });
  ctx.logger.debug({ event: 'group.left', groupId }, 'device left a group');
}

export async function acknowledge(ctx: AppContext, deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void> {
  await ctx.storage.ack(deviceId, groupId, seq);
  ctx.trimmer.mark(groupId);
}
