import { verifyDeviceSignature } from '@parley/crypto';
import type { MlsCiphersuiteId } from '@parley/crypto';
import { linkApprovalMessage } from '@parley/protocol';
import type { DeviceId } from '@parley/protocol';
import type { DirectoryDevice, DirectoryUser } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';

/** Why one of this user's own devices may not be added: it carries no approval, or one that does not verify. */
export type UnapprovedReason = 'no_approval' | 'unknown_approver' | 'bad_signature';

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

/** Splits `devices` (this user's own) into those whose approval verifies and those refused, with why. */
export async function partitionApproved(
  user: DirectoryUser,
  devices: readonly DirectoryDevice[],
  ciphersuite: MlsCiphersuiteId,
): Promise<{ approved: DirectoryDevice[]; refused: Array<{ device: DirectoryDevice; reason: UnapprovedReason }> }> {
  const approved: DirectoryDevice[] = [];
  const refused: Array<{ device: DirectoryDevice; reason: UnapprovedReason }> = [];
  for (const device of devices) {
    const reason = await checkApproval(user, device, ciphersuite);
    if (reason === undefined) approved.push(device);
    else refused.push({ device, reason });
  }
  return { approved, refused };
}

/** The error reported (once per device) for an own device that is left out. */
export function unapprovedError(deviceId: DeviceId, reason: UnapprovedReason): ClientError {
  const why = { no_approval: 'carries no approval', unknown_approver: 'names no other device of this account as its approver', bad_signature: 'has an approval signature that does not verify' }[reason];
  return new ClientError('device_unapproved', `not adding device ${deviceId}: the directory lists it for this account, but it ${why}`, { detail: { deviceId, reason } });
}
