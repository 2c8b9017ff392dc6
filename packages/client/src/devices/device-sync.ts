import type { CommitResult, MemberDevice, MlsCiphersuiteId, MlsGroup } from '@parley/crypto';
import { bytesEqual } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { activeDevices } from '../directory/device-directory.js';
import type { DeviceDirectoryCache, DirectoryDevice, DirectoryUser } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import type { ConversationRecord } from '../store/records.js';
import { knownOwnDevices, trustOwnDevices, unapprovedError, type UnapprovedReason } from './approvals.js';

/** A device to claim a key package for, with the key the directory lists for it. */
export interface ClaimTarget {
  readonly userId: UserId;
  readonly device: DirectoryDevice;
}

/** What device sync needs from the client core. */
export interface MembershipOps {
  readonly me: { readonly userId: UserId; readonly deviceId: DeviceId };
  /** This device's ciphersuite: approvals of this user's devices are checked with it. */
  readonly ciphersuite: MlsCiphersuiteId;
  isReady(): boolean;
  isClosed(): boolean;
  conversations(): Promise<ConversationRecord[]>;
  loadGroup(id: GroupId): Promise<MlsGroup>;
  /** One key package per target, each checked to name that device with that key. */
  claimKeyPackages(targets: readonly ClaimTarget[]): Promise<Array<{ deviceId: DeviceId; data: Uint8Array }>>;
  /** Builds a commit from the current state, sends it, retries on epoch conflicts. */
  runCommit(id: GroupId, build: (group: MlsGroup) => Promise<CommitResult | undefined>): Promise<CommitResult | undefined>;
  /** After adding devices: the new ones learn the title and names. */
  sendRoster(id: GroupId): Promise<void>;
  /**
   * Runs before each sync of this user's devices: makes sure the self group
   * exists or is being waited for (self/self-group.ts), so that this same
   * sync adds the user's other devices to it. Never throws: it reports its
   * own errors, and the sync goes on.
   */
  beforeOwnSync(): Promise<void>;
  reportError(error: unknown, conversationId?: GroupId): void;
  /** One of this user's own devices was left out: its approval is missing or does not verify. */
  reportUnapproved(error: Error, conversationId: GroupId): void;
}

/** Per own device: undefined when its approval verifies, else why not. */
type Approvals = ReadonlyMap<DeviceId, UnapprovedReason | undefined>;

/**
 * Keeps every conversation in line with the directory:
 *
 * - this user's devices (`sync`, on connect, on `devices_changed`, every
 *   interval): active devices that are not members are added — only if their
 *   link approval verifies on this device (devices/approvals.ts), so a device
 *   the server activated on its own is never added; the others are reported
 *   (device_unapproved) and left out — and leaves of revoked devices (or with
 *   a key the directory does not list) removed;
 * - another user's (`reconcileUser`, on `devices_changed {userId}`): leaves
 *   of their revoked devices are removed — any member may — and a user with
 *   no active leaf left but active devices (they started over) gets those
 *   added, in the same commit, so every member sees one change.
 *
 * A user who started over is re-added only together with the removal of
 * their old devices. Their new device may not have uploaded key packages yet
 * when `devices_changed` arrives: then the change waits and is tried again
 * (RETRY_MS), and only after the last try are the old devices removed alone.
 *
 * Several members doing this at once is fine: the losers of the commit race
 * rebuild from the new state and find nothing left to do.
 */
/** When to try again for a user whose new device had no key packages yet. */
const RETRY_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000];
/** After a commit lost a race with a revocation: sync again this much later, from the fresh directory. */
const STALE_RETRY_MS = 500;

export class DeviceSync {
  private running: Promise<void> | undefined;
  private again = false;
  private soon: ReturnType<typeof setTimeout> | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;
  private readonly users = new Map<UserId, ReturnType<typeof setTimeout>>();
  private userChain: Promise<void> = Promise.resolve();
  /** Own devices already reported as unapproved (once per device, not at every sync). */
  private readonly reported = new Set<DeviceId>();

  constructor(
    private readonly ops: MembershipOps,
    private readonly directory: DeviceDirectoryCache,
  ) {}

  /** Periodic own-device sync; 0 = only when scheduled. */
  start(everyMs: number): void {
    if (everyMs <= 0) return;
    this.interval = setInterval(() => this.schedule(0), everyMs);
    (this.interval as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    if (this.soon !== undefined) clearTimeout(this.soon);
    for (const t of this.users.values()) clearTimeout(t);
    this.users.clear();
  }

  /** Resolves when running work is done (for closing). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.userChain.catch(() => undefined);
  }

  schedule(delayMs: number): void {
    if (this.ops.isClosed() || this.soon !== undefined) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.sync().catch((err: unknown) => this.ops.reportError(err));
    }, delayMs);
  }

  /** Another user's devices changed: reconcile shared conversations soon (jittered, so members rarely race). */
  scheduleUser(userId: UserId, attempt = 0): void {
    if (userId === this.ops.me.userId) return this.schedule(0);
    if (this.ops.isClosed()) return;
    const existing = this.users.get(userId);
    if (existing !== undefined) {
      if (attempt > 0) return; // a fresh change is already waiting
      clearTimeout(existing); // a fresh change restarts the tries
    }
    const delay = attempt === 0 ? Math.floor(Math.random() * 400) : (RETRY_MS[attempt - 1] ?? 30_000);
    const timer = setTimeout(() => {
      this.users.delete(userId);
      this.userChain = this.userChain
        .then(async () => {
          if (await this.reconcileUser(userId, attempt >= RETRY_MS.length)) this.scheduleUser(userId, attempt + 1);
        })
        .catch((err: unknown) => this.ops.reportError(err));
    }, delay);
    this.users.set(userId, timer);
  }

  /** This user's devices, in every conversation. Coalesces: a call while running runs once more afterwards. */
  sync(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (!this.ops.isReady()) return;
          await this.ops.beforeOwnSync();
          const me = await this.directory.lookupUserById(this.ops.me.userId);
          await this.reconcileAll(me, 'own', true, await this.approvals(me));
        } while (this.again && !this.ops.isClosed());
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Returns true when a change had to wait for the user's new device (try again later). */
  async reconcileUser(userId: UserId, last = true): Promise<boolean> {
    if (this.ops.isClosed() || !this.ops.isReady()) return false;
    return this.reconcileAll(await this.directory.lookupUserById(userId), 'contact', last);
  }

  /** Checks the approval chain of each of this user's active devices but this one (devices/approvals.ts). */
  private async approvals(me: DirectoryUser): Promise<Approvals> {
    const known = await knownOwnDevices(me.userId, await this.ops.conversations(), (id) => this.ops.loadGroup(id));
    return trustOwnDevices(me, this.ops.me.deviceId, known, this.ops.ciphersuite);
  }

  private async reconcileAll(user: DirectoryUser, mode: 'own' | 'contact', last: boolean, approvals: Approvals = new Map()): Promise<boolean> {
    let waiting = false;
    for (const conv of await this.ops.conversations()) {
      if (conv.status !== 'active' || this.ops.isClosed()) continue;
      try {
        if (await this.reconcile(conv.id, user, mode, last, approvals)) waiting = true;
      } catch (err) {
        if (await this.revokedMeanwhile(err, user.userId)) {
          // Our directory view was older than the server's: the next pass starts from the fresh one.
          if (mode === 'own') this.schedule(STALE_RETRY_MS);
          else this.scheduleUser(user.userId);
          continue;
        }
        this.ops.reportError(err, conv.id);
      }
    }
    return waiting;
  }

  /**
   * The server refused a commit naming a device that is not active (any more):
   * true only when the directory, asked again now, lists that device of
   * `userId` as revoked — a revocation raced this commit. Anything else is an error.
   */
  private async revokedMeanwhile(err: unknown, userId: UserId): Promise<boolean> {
    const device = err instanceof ClientError && err.server === true ? err.detail?.['device'] : undefined;
    if (typeof device !== 'string') return false;
    try {
      const fresh = await this.directory.lookupUserById(userId);
      return fresh.devices.some((d) => d.id === device && d.revokedAt !== null);
    } catch {
      return false;
    }
  }

  private async reconcile(conversationId: GroupId, user: DirectoryUser, mode: 'own' | 'contact', last: boolean, approvals: Approvals): Promise<boolean> {
    const group = await this.ops.loadGroup(conversationId);
    if (!group.active) return false;
    const plan = this.plan(group.memberDevices(), user, mode, approvals);
    for (const d of plan.refused) {
      if (this.reported.has(d.id)) continue;
      this.reported.add(d.id);
      this.ops.reportUnapproved(unapprovedError(d.id, approvals.get(d.id) ?? 'no_approval'), conversationId);
    }
    if (plan.remove.length === 0 && plan.add.length === 0) return false;
    const claimed = plan.add.length === 0 ? [] : await this.ops.claimKeyPackages(plan.add.map((device) => ({ userId: user.userId, device })));
    // Started over, but no key package yet: removing the old devices alone would drop the user from the conversation.
    if (mode === 'contact' && plan.add.length > 0 && claimed.length === 0 && !last) return true;
    const result = await this.ops.runCommit(conversationId, async (g) => {
      // From the state as it is now: another member may have done part of it.
      const now = this.plan(g.memberDevices(), user, mode, approvals);
      const remove = now.remove.map((d) => d.deviceId);
      const add = claimed.filter((c) => now.add.some((d) => d.id === c.deviceId)).map((c) => c.data);
      // A user who started over is only re-added together with the removal of their old devices (or not at all yet).
      if (remove.length === 0 && add.length === 0) return undefined;
      return g.changeMembers({ remove, add });
    });
    if (result !== undefined && result.added.length > 0) await this.ops.sendRoster(conversationId);
    return false;
  }

  /**
   * Which of `user`'s leaves to remove and which of their devices to add, given
   * the group's members; for this user, also the missing devices refused for
   * want of a verified approval (never added).
   */
  private plan(
    members: readonly MemberDevice[],
    user: DirectoryUser,
    mode: 'own' | 'contact',
    approvals: Approvals,
  ): { remove: MemberDevice[]; add: DirectoryDevice[]; refused: DirectoryDevice[] } {
    const active = activeDevices(user);
    const leaves = members.filter((m) => m.userId === user.userId);
    const vouched = (l: MemberDevice) => active.some((d) => d.id === l.deviceId && bytesEqual(d.signatureKey, l.signaturePublicKey));
    const remove = leaves.filter((l) => !vouched(l) && l.deviceId !== this.ops.me.deviceId);
    const kept = leaves.filter(vouched);
    const missing = active.filter((d) => d.id !== this.ops.me.deviceId && !kept.some((l) => l.deviceId === d.id));
    if (mode === 'own') {
      // Checked for every device, fail closed: a device not checked (not in approvals) is refused too.
      const approved = (d: DirectoryDevice) => approvals.has(d.id) && approvals.get(d.id) === undefined;
      return { remove, add: missing.filter(approved), refused: missing.filter((d) => !approved(d)) };
    }
    // Another user: add their devices only when they started over (members, but no active leaf left).
    return { remove, add: leaves.length > 0 && kept.length === 0 ? missing : [], refused: [] };
  }
}
