import type { DeviceId } from '@parley/protocol';
import { StorageError, type AppendCommitInput } from './storage.js';

/**
 * The members a commit lists after it, and the devices it adds: those not in
 * the group's delivery before it (`before`) nor among the devices that left
 * delivery but are still listed in its MLS membership (`departed`). Throws
 * invalid_membership when the committer drops itself. Whether the added
 * devices may join is for the adapter to check.
 */
export function commitMembers(input: AppendCommitInput, before: readonly DeviceId[], departed: readonly DeviceId[]): { after: Set<DeviceId>; added: DeviceId[] } {
  const listed = new Set([...before, ...departed]);
  const after = new Set(input.devices);
  if (!after.has(input.senderDevice)) throw new StorageError('invalid_membership', 'the committer must remain a member');
  const added = [...after].filter((d) => !listed.has(d));
  return { after, added };
}

export interface CommitWelcome {
  /** The Welcome's recipients, each once. */
  welcomeTo: DeviceId[];
  /** The Welcome's bytes when it goes to anyone. */
  welcome: Uint8Array | undefined;
  groupInfo: Uint8Array | null;
  /** Bytes the commit adds to the group's queue. */
  stored: number;
  /** Bytes charged to the sender's quota. */
  charged: number;
}

/**
 * A device enters a group only with a Welcome addressed to it, and a Welcome
 * goes only to devices entering: throws invalid_membership unless the Welcome
 * goes to every device the commit adds, and otherwise only to devices of the
 * group's delivery that stay (`staying`: a device re-added with a fresh leaf
 * after losing its state; not one that left).
 */
export function commitWelcome(input: AppendCommitInput, added: readonly DeviceId[], staying: ReadonlySet<DeviceId> = new Set()): CommitWelcome {
  const welcomeTo = [...new Set(input.welcome?.to ?? [])];
  const addedSet = new Set(added);
  const to = new Set(welcomeTo);
  if (!added.every((d) => to.has(d)) || !welcomeTo.every((d) => addedSet.has(d) || (staying.has(d) && d !== input.senderDevice))) {
    throw new StorageError('invalid_membership', 'the Welcome must go to exactly the devices the commit adds');
  }
  const welcome = input.welcome && welcomeTo.length > 0 ? input.welcome.data : undefined;
  const groupInfo = input.groupInfo ?? null;
  const stored = input.commit.byteLength + (welcome ? welcome.byteLength + (groupInfo?.byteLength ?? 0) : 0);
  const charged = input.commit.byteLength + (input.welcome?.data.byteLength ?? 0) + (groupInfo?.byteLength ?? 0);
  return { welcomeTo, welcome, groupInfo, stored, charged };
}
