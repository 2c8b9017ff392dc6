import type { CommitResult, MemberDevice, MlsGroup } from '@parley/crypto';
import { bytesEqual } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { activeDevices } from '../directory/device-directory.js';
import type { DeviceDirectoryCache, DirectoryDevice, DirectoryUser } from '../directory/device-directory.js';
import type { ConversationRecord } from '../store/records.js';

/** A device to claim a key package for, with the key the directory lists for it. */
export interface ClaimTarget {
  readonly userId: UserId;
  readonly device: DirectoryDevice;
}

/** What device sync needs from the client core. */
export interface MembershipOps {
  readonly me: { readonly userId: UserId; readonly deviceId: DeviceId };
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
  reportError(error: unknown, conversationId?: GroupId): void;
}

/**
 * Keeps every conversation in line with the directory:
 *
 * - this user's devices (`sync`, on connect, on `devices_changed`, every
 *   interval): active devices that are not members are added, leaves of
 *   revoked devices (or with a key the directory does not list) removed;
 * - another user's (`reconcileUser`, on `devices_changed {userId}`): leaves
 *   of their revoked devices are removed — any member may — and a user with
 *   no active leaf left but active devices (they started over) gets those
 *   added, in the same commit, so every member sees one change.
 *
 * Several members doing this at once is fine: the losers of the commit race
 * rebuild from the new state and find nothing left to do.
 */
export class DeviceSync {
  private running: Promise<void> | undefined;
  private again = false;
  private soon: ReturnType<typeof setTimeout> | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;
  private readonly users = new Map<UserId, ReturnType<typeof setTimeout>>();
  private userChain: Promise<void> = Promise.resolve();

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
  scheduleUser(userId: UserId): void {
    if (this.ops.isClosed() || this.users.has(userId) || userId === this.ops.me.userId) {
      if (userId === this.ops.me.userId) this.schedule(0);
      return;
    }
    const timer = setTimeout(() => {
      this.users.delete(userId);
      this.userChain = this.userChain.then(() => this.reconcileUser(userId)).catch((err: unknown) => this.ops.reportError(err));
    }, Math.floor(Math.random() * 400));
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
          await this.reconcileAll(await this.directory.lookupUserById(this.ops.me.userId), 'own');
        } while (this.again && !this.ops.isClosed());
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async reconcileUser(userId: UserId): Promise<void> {
    if (this.ops.isClosed() || !this.ops.isReady()) return;
    await this.reconcileAll(await this.directory.lookupUserById(userId), 'contact');
  }

  private async reconcileAll(user: DirectoryUser, mode: 'own' | 'contact'): Promise<void> {
    for (const conv of await this.ops.conversations()) {
      if (conv.status !== 'active' || this.ops.isClosed()) continue;
      try {
        await this.reconcile(conv.id, user, mode);
      } catch (err) {
        this.ops.reportError(err, conv.id);
      }
    }
  }

  private async reconcile(conversationId: GroupId, user: DirectoryUser, mode: 'own' | 'contact'): Promise<void> {
    const group = await this.ops.loadGroup(conversationId);
    if (!group.active) return;
    const plan = this.plan(group.memberDevices(), user, mode);
    if (plan.remove.length === 0 && plan.add.length === 0) return;
    const claimed = plan.add.length === 0 ? [] : await this.ops.claimKeyPackages(plan.add.map((device) => ({ userId: user.userId, device })));
    const result = await this.ops.runCommit(conversationId, async (g) => {
      // From the state as it is now: another member may have done part of it.
      const now = this.plan(g.memberDevices(), user, mode);
      const remove = now.remove.map((d) => d.deviceId);
      const add = claimed.filter((c) => now.add.some((d) => d.id === c.deviceId)).map((c) => c.data);
      // A user who started over is only re-added together with the removal of their old devices (or not at all yet).
      if (remove.length === 0 && add.length === 0) return undefined;
      return g.changeMembers({ remove, add });
    });
    if (result !== undefined && result.added.length > 0) await this.ops.sendRoster(conversationId);
  }

  /** Which of `user`'s leaves to remove and which of their devices to add, given the group's members. */
  private plan(members: readonly MemberDevice[], user: DirectoryUser, mode: 'own' | 'contact'): { remove: MemberDevice[]; add: DirectoryDevice[] } {
    const active = activeDevices(user);
    const leaves = members.filter((m) => m.userId === user.userId);
    const vouched = (l: MemberDevice) => active.some((d) => d.id === l.deviceId && bytesEqual(d.signatureKey, l.signaturePublicKey));
    const remove = leaves.filter((l) => !vouched(l) && l.deviceId !== this.ops.me.deviceId);
    const kept = leaves.filter(vouched);
    const missing = active.filter((d) => d.id !== this.ops.me.deviceId && !kept.some((l) => l.deviceId === d.id));
    if (mode === 'own') return { remove, add: missing };
    // Another user: add their devices only when they started over (members, but no active leaf left).
    return { remove, add: leaves.length > 0 && kept.length === 0 ? missing : [] };
  }
}
