import { newContentId } from '@parley/crypto';
import type { MemberDevice } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { MessageRecord, StoreBatch } from '../store/records.js';
import type { Notice, NoticeContent } from '../types.js';
import type { Verifications } from './verifications.js';

/** What a commit did to the member devices (as the MLS engine reports it). */
export interface MembershipChange {
  /** Member devices after the commit. */
  readonly devices: readonly MemberDevice[];
  readonly added: readonly MemberDevice[];
  readonly removed: readonly MemberDevice[];
}

/**
 * One `safety_number_changed` notice per member user (other than this user)
 * whose devices the commit added or removed while the user stays a member
 * — not for a user joining or leaving the conversation as a whole. `reset`:
 * every device the user had was removed and new ones added (started over).
 */
export function safetyNumberNotices(me: UserId, change: MembershipChange, nameOf: (userId: UserId) => string | null): Notice[] {
  const count = (list: readonly MemberDevice[]) => {
    const m = new Map<UserId, number>();
    for (const d of list) if (d.userId !== me) m.set(d.userId, (m.get(d.userId) ?? 0) + 1);
    return m;
  };
  const after = count(change.devices);
  const added = count(change.added);
  const removed = count(change.removed);
  const notices: Notice[] = [];
  for (const userId of new Set([...added.keys(), ...removed.keys()])) {
    const a = added.get(userId) ?? 0;
    const r = removed.get(userId) ?? 0;
    const now = after.get(userId) ?? 0;
    const before = now - a + r;
    if (before === 0 || now === 0) continue;
    notices.push({ kind: 'safety_number_changed', userId, username: nameOf(userId), added: a, removed: r, reset: r === before && a > 0 });
  }
  return notices;
}

export function deviceRefusedNotice(userId: UserId, deviceId: DeviceId, username: string | null): Notice {
  return { kind: 'device_refused', userId, username, deviceId };
}

/**
 * Writes notices into a conversation's history, in the caller's batch, at
 * the seq of the message that caused them; their sender is this device.
 * Users with a changed safety number lose their verification in the same
 * batch. Returns the records, to emit as `message` events once committed.
 */
export class NoticeWriter {
  constructor(
    private readonly me: { readonly userId: UserId; readonly deviceId: DeviceId },
    private readonly verifications: Verifications,
  ) {}

  async add(batch: StoreBatch, conversationId: GroupId, seq: number, notices: readonly Notice[]): Promise<MessageRecord[]> {
    if (notices.length === 0) return [];
    const now = Date.now();
    const records = notices.map((notice, index): MessageRecord => {
      const content: NoticeContent = { type: 'notice', v: 1, id: newContentId(), sentAt: now, notice };
      return { conversationId, seq, senderUserId: this.me.userId, senderDeviceId: this.me.deviceId, outgoing: false, receivedAt: now, content, plaintext: new Uint8Array(0), noticeIndex: index };
    });
    for (const r of records) batch.putMessage(r);
    const changed = notices.filter((n) => n.kind === 'safety_number_changed').map((n) => n.userId);
    await this.verifications.markChanged(batch, changed, now);
    return records;
  }
}
