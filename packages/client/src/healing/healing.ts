import { signWithDevice, verifyDeviceSignature } from '@parley/crypto';
import { fromBase64Url, MAX_REJOIN_BYTES, rejoinRequestMessage, toBase64Url } from '@parley/protocol';
import type { GroupId, RejoinServerFrame } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { activeDevices } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';

/** A request older (or further in the future, by the sender's clock) than this is refused. */
export const REJOIN_MAX_AGE_MS = 5 * 60_000;
/** When a broken device asks again while it is not re-added (the last delay repeats). */
export const ASK_DELAYS_MS = [0, 2_000, 5_000, 10_000, 30_000, 60_000];
/** Members wait up to this long (random) before answering, so several rarely race for the same commit. */
const ANSWER_JITTER_MS = 300;
/** At most this many nonces remembered (requests are rate-limited by the server; beyond this, requests wait). */
const MAX_SEEN = 10_000;

export type RejoinRefusal = 'malformed' | 'stale' | 'replayed' | 'unknown_device' | 'bad_signature' | 'not_member';

interface RejoinRequest {
  readonly at: number;
  readonly nonce: string;
  readonly sig: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The request payload: `{ at, nonce, sig }` (JSON; `sig` base64url over rejoinRequestMessage). */
export function encodeRejoinRequest(r: RejoinRequest): Uint8Array {
  return encoder.encode(JSON.stringify({ at: r.at, nonce: r.nonce, sig: toBase64Url(r.sig) }));
}

export function decodeRejoinRequest(payload: Uint8Array): RejoinRequest | undefined {
  if (payload.length === 0 || payload.length > MAX_REJOIN_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { at, nonce, sig } = json as Record<string, unknown>;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) || typeof sig !== 'string') return undefined;
  const bytes = fromBase64Url(sig);
  return bytes === undefined || bytes.length === 0 ? undefined : { at, nonce, sig: bytes };
}

/**
 * Groups that heal. A device that can no longer follow a group (a commit it
 * could not process, a message from an epoch it cannot reach, a stored state
 * that does not load) has its conversation marked `rejoining` by the inbox
 * (with a "Some messages could not be decrypted" notice); this module then
 * asks the members to re-add it — a request signed with its device key over
 * group, user, device, time and a fresh nonce, relayed live by the server to
 * the group's devices — again with backoff until a Welcome re-adds it.
 *
 * A member answers only a request that verifies against the directory (an
 * active device of a user who is a member of the group, the signature by that
 * device's key, fresh, not seen before): one commit removes the device's old
 * leaf and adds it with a freshly claimed KeyPackage. It is built only from
 * the epoch the request was checked in: if another member's commit (another
 * healer's) landed first, there is nothing left to do, and a device still
 * broken asks again.
 */
export class Healing {
  private readonly asking = new Map<GroupId, ReturnType<typeof setTimeout>>();
  private readonly attempts = new Map<GroupId, number>();
  /** Nonces of requests already answered or refused, until they are too old to be accepted anyway. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly now: () => number = Date.now,
  ) {}

  /* ---------- the broken device ---------- */

  /** The inbox marked the conversation rejoining: ask now, then again with backoff. */
  broken(groupId: GroupId): void {
    this.attempts.set(groupId, 0);
    this.schedule(groupId);
  }

  /** After each sync (and so after a restart): keep asking for every conversation still rejoining. */
  async resume(): Promise<void> {
    for (const c of await this.core.repo.conversations()) {
      if (c.status === 'rejoining' && !this.asking.has(c.id)) this.schedule(c.id);
    }
  }

  stop(): void {
    for (const t of this.asking.values()) clearTimeout(t);
    this.asking.clear();
  }

  private schedule(groupId: GroupId): void {
    if (this.core.isClosed() || this.asking.has(groupId)) return;
    const attempt = this.attempts.get(groupId) ?? 0;
    const delay = ASK_DELAYS_MS[Math.min(attempt, ASK_DELAYS_MS.length - 1)] ?? 60_000;
    const timer = setTimeout(() => {
      this.asking.delete(groupId);
      this.askOnce(groupId)
        .then((again) => {
          if (!again) return this.attempts.delete(groupId);
          this.attempts.set(groupId, attempt + 1);
          this.schedule(groupId);
          return true;
        })
        .catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err, { conversationId: groupId }));
    }, delay);
    (timer as { unref?: () => void }).unref?.();
    this.asking.set(groupId, timer);
  }

  /** Sends one request if the conversation is still rejoining; true to ask again later. */
  private async askOnce(groupId: GroupId): Promise<boolean> {
    if (this.core.isClosed()) return false;
    const conv = await this.core.repo.conversation(groupId);
    if (conv?.status !== 'rejoining') return false;
    const session = this.core.current();
    if (session === undefined) return true;
    const { account, identity, connection } = session;
    const at = this.now();
    const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
    const sig = await signWithDevice(identity, rejoinRequestMessage(groupId, account.userId, account.deviceId, at, nonce));
    // Dropped while offline: the next attempt (or the resume after the next sync) asks again.
    connection.sendEphemeral({ t: 'rejoin', group: groupId }, [encodeRejoinRequest({ at, nonce, sig })]);
    return true;
  }

  /* ---------- the members ---------- */

  /**
   * A member device's request arrived: the step the inbox runs in order with
   * the frames received before it. It notes the group's epoch as of the
   * request (a commit that re-added the device — another member's answer —
   * can only come after it), then answers a moment later (jittered).
   */
  requested(frame: RejoinServerFrame, payload: Uint8Array): () => Promise<void> {
    return async () => {
      if (this.core.isClosed() || (await this.core.repo.conversation(frame.group))?.status !== 'active') return;
      const epoch = (await this.state.load(frame.group)).epoch;
      setTimeout(() => {
        if (this.core.isClosed()) return;
        this.answer(frame, payload, epoch).catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err, { conversationId: frame.group }));
      }, Math.floor(Math.random() * ANSWER_JITTER_MS));
    };
  }

  /**
   * Checks a request and, if it holds, re-adds the device — only while the
   * group is still at `seenAt` (the epoch when the request arrived). Exposed for tests.
   */
  async answer(frame: RejoinServerFrame, payload: Uint8Array, seenAt?: bigint): Promise<void> {
    const session = this.core.session();
    if (frame.device === session.account.deviceId) return;
    const conv = await this.core.repo.conversation(frame.group);
    // Only a member in good standing answers (a device that is itself rejoining cannot commit).
    if (conv?.status !== 'active' || session.self.isSelf(frame.group)) return;
    const refuse = (reason: RejoinRefusal, message: string) =>
      this.core.emitError('rejoin_refused', new ClientError('rejoin_refused', message, { detail: { reason, userId: frame.user, deviceId: frame.device } }), { conversationId: frame.group });

    const request = decodeRejoinRequest(payload);
    if (request === undefined) return refuse('malformed', 'a rejoin request that is not well-formed');
    const now = this.now();
    if (Math.abs(now - request.at) > REJOIN_MAX_AGE_MS) return refuse('stale', 'a rejoin request too old or from the future');
    this.prune(now);
    if (this.seen.has(request.nonce)) return refuse('replayed', 'a rejoin request seen before');
    if (this.seen.size >= MAX_SEEN) return; // flooded: ignore until older nonces expire
    this.seen.set(request.nonce, request.at + REJOIN_MAX_AGE_MS);

    // Fail closed: the directory must list the device as active, and the request must verify under its key.
    const user = await session.directory.lookupUserById(frame.user).catch(() => undefined);
    const device = user === undefined ? undefined : activeDevices(user).find((d) => d.id === frame.device);
    if (user === undefined || device === undefined) return refuse('unknown_device', 'a rejoin request from a device the directory does not list as active');
    const message = rejoinRequestMessage(frame.group, frame.user, frame.device, request.at, request.nonce);
    if (!(await verifyDeviceSignature(session.identity.ciphersuite, device.signatureKey, message, request.sig))) return refuse('bad_signature', 'a rejoin request whose signature does not verify');

    const group = await this.state.load(frame.group);
    const members = group.memberDevices();
    // The user must be a member; their device must be in the group already (healing adds no new device: device sync does).
    const leaf = members.find((m) => m.deviceId === frame.device);
    if (!members.some((m) => m.userId === frame.user) || leaf === undefined || leaf.userId !== frame.user) return refuse('not_member', 'a rejoin request for a device that is not in this group');
    const epoch = seenAt ?? group.epoch;
    // A commit since the request arrived (maybe another member's answer): a device still broken asks again.
    if (group.epoch !== epoch) return;

    const [claimed] = await this.outbox.claimKeyPackages([{ userId: frame.user, device }]);
    if (claimed === undefined) return; // no key package now: the device asks again
    const result = await this.outbox.runCommit(frame.group, async (g) => {
      // Another member's commit (another healer's) came first: nothing to do; a device still broken asks again.
      if (g.epoch !== epoch) return undefined;
      return g.changeMembers({ remove: [frame.device], add: [claimed.data] });
    });
    if (result !== undefined) await this.outbox.sendRoster(frame.group);
  }

  private prune(now: number): void {
    for (const [nonce, until] of this.seen) if (until < now) this.seen.delete(nonce);
  }
}
