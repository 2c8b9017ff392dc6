import { verifyDeviceSignature } from '@parley/crypto';
import type { MlsCiphersuiteId, MlsGroup } from '@parley/crypto';
import { linkApprovalMessage } from '@parley/protocol';
import type { DeviceId, GroupId } from '@parley/protocol';
import { activeDevices, type DirectoryDevice, type DirectoryUser } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';

/**
 * Why one of this user's own devices may not be added: it carries no approval,
 * one that does not verify, or one by a device this device has no reason to
 * trust (the chain of approvals does not lead back to a device it knows).
 */
export type UnapprovedReason = 'no_approval' | 'unknown_approver' | 'bad_signature' | 'untrusted_approver';

/**
 * Checks, on this device, the approval the server says activated one of this
 * user's own devices: `approvedBy` must name ANOTHER device of the same user
 * that the directory lists (active or revoked — it may have been revoked
 * since), and `approval` must verify under that device's key over
 * linkApprovalMessage(userId, device id, device key). The server checks this
 * too when it activates a device; checking it here means a server that marks
 * a device of its own active cannot get it into this user's conversations.
 * Devices that registered the account or reset the identity carry no approval
 * (undefined is returned only for a device that verifies).
 */
export async function checkApproval(user: DirectoryUser, device: DirectoryDevice, ciphersuite: MlsCiphersuiteId): Promise<UnapprovedReason | undefined> {
  if (device.approvedBy === null || device.approval === null) return 'no_approval';
  const approverId = device.approvedBy;
  const approver = approverId === device.id ? undefined : user.devices.find((d) => d.id === approverId);
  if (approver === undefined) return 'unknown_approver';
  const message = linkApprovalMessage(user.userId, device.id, device.signatureKey);
  return (await verifyDeviceSignature(ciphersuite, approver.signatureKey, message, device.approval)) ? undefined : 'bad_signature';
}

/**
 * Which of this user's active devices (this one aside) this device may add:
 * undefined for those whose chain of approvals leads back to a device it
 * already trusts, else why not. A signature that verifies is not enough on its
 * own: a server could list a device of its own and have it "approve" a second
 * one. The roots are this device and `known` — this user's devices that are
 * leaves of this device's groups (each was added by one of this user's devices
 * that checked it, or was in the group this device was welcomed into). Only
 * while it knows none, the account's first device — the one active device the
 * directory lists without an approver (it registered the account, or reset
 * it) — is a root, so a device linked before any conversation existed can
 * still start one with it.
 */
export async function trustOwnDevices(
  user: DirectoryUser,
  self: DeviceId,
  known: ReadonlySet<DeviceId>,
  ciphersuite: MlsCiphersuiteId,
): Promise<Map<DeviceId, UnapprovedReason | undefined>> {
  const trusted = new Set<DeviceId>([self]);
  for (const d of user.devices) if (known.has(d.id)) trusted.add(d.id);
  if (trusted.size === 1) {
    const roots = activeDevices(user).filter((d) => d.approvedBy === null);
    const root = roots.length === 1 ? roots[0] : undefined;
    if (root !== undefined) trusted.add(root.id);
  }
  const reasons = new Map<DeviceId, UnapprovedReason | undefined>();
  // Grow the trusted set along verified approvals until nothing changes (a chain is at most as long as the list).
  for (let grew = true; grew; ) {
    grew = false;
    for (const d of user.devices) {
      if (trusted.has(d.id)) continue;
      const reason = await checkApproval(user, d, ciphersuite);
      if (reason === undefined && d.approvedBy !== null && trusted.has(d.approvedBy)) {
        trusted.add(d.id);
        grew = true;
      } else {
        reasons.set(d.id, reason ?? 'untrusted_approver');
      }
    }
  }
  const out = new Map<DeviceId, UnapprovedReason | undefined>();
  for (const d of activeDevices(user)) {
    if (d.id !== self) out.set(d.id, trusted.has(d.id) ? undefined : (reasons.get(d.id) ?? 'untrusted_approver'));
  }
  return out;
}

/** This user's devices that are leaves of this device's active groups: the roots of trustOwnDevices. */
export async function knownOwnDevices(
  userId: DirectoryUser['userId'],
  conversations: ReadonlyArray<{ id: GroupId; status: string }>,
  loadGroup: (id: GroupId) => Promise<MlsGroup>,
): Promise<Set<DeviceId>> {
  const known = new Set<DeviceId>();
  for (const c of conversations) {
    if (c.status !== 'active') continue;
    const group = await loadGroup(c.id);
    if (!group.active) continue;
    for (const m of group.memberDevices()) if (m.userId === userId) known.add(m.deviceId);
  }
  return known;
}

/** The error reported (once per device) for an own device that is left out. */
export function unapprovedError(deviceId: DeviceId, reason: UnapprovedReason): ClientError {
  const why = {
    no_approval: 'carries no approval',
    unknown_approver: 'names no other device of this account as its approver',
    bad_signature: 'has an approval signature that does not verify',
    untrusted_approver: 'was approved by a device this device has no reason to trust',
  }[reason];
  return new ClientError('device_unapproved', `not adding device ${deviceId}: the directory lists it for this account, but it ${why}`, { detail: { deviceId, reason } });
}
