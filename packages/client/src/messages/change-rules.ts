import { DELETE_WINDOW_MS, EDIT_WINDOW_MS, encodeContent } from '@parley/crypto';
import type { DeleteContent, EditContent, ReactionContent } from '@parley/crypto';
import type { DeviceId, UserId } from '@parley/protocol';
import type { MemberRecord, MessageRecord } from '../store/records.js';

/** A change to an earlier message. */
export type ChangeContent = ReactionContent | EditContent | DeleteContent;

/**
 * What to do with a change: apply it; drop it quietly (`stale`: a later
 * change of the same kind, or a delete, already won — arrival order differs
 * from seq order only on the device that sent the later one); or refuse it
 * (`invalid`, reported as an `invalid_change` error event).
 */
export type ChangeVerdict = { kind: 'apply' } | { kind: 'stale' } | { kind: 'invalid'; reason: string };

const invalid = (reason: string): ChangeVerdict => ({ kind: 'invalid', reason });

/**
 * The rules every device applies to a reaction, edit or delete (docs/protocol.md, "Message content"):
 * - the sender must be a member device now (a removed member's late messages change nothing);
 * - the target must be a message of this conversation stored here, before the change, with the named content id;
 * - reactions: to text, attachments and voice messages, by any member;
 * - edits: the sender's user's own text or attachment (its caption), within EDIT_WINDOW_MS of its sentAt;
 * - deletes: the sender's user's own text, attachment or voice message, within DELETE_WINDOW_MS;
 * both windows compare the change's sentAt with the original's (both the sender's clock);
 * - nothing changes a message deleted for everyone.
 */
export function checkChange(
  change: ChangeContent,
  changeSeq: number,
  sender: { userId: UserId; deviceId: DeviceId },
  members: readonly MemberRecord[],
  target: MessageRecord | undefined,
): ChangeVerdict {
  if (!members.some((m) => m.userId === sender.userId && m.devices.includes(sender.deviceId))) return invalid('the sender is not a member device');
  if (change.target.seq >= changeSeq) return invalid('the target is not an earlier message');
  if (target === undefined || target.content.type === 'notice') return invalid('no such message on this device');
  const content = target.content;
  if (content.id !== change.target.id) return invalid('the content id at that seq differs');
  if (content.type === 'deleted') return target.deletedSeq !== undefined && changeSeq < target.deletedSeq ? { kind: 'stale' } : invalid('the message was deleted');
  if (content.type === 'settings') return invalid('settings cannot be changed');
  switch (change.type) {
    case 'reaction': {
      const previous = target.reactions?.find((r) => r.userId === sender.userId);
      return previous !== undefined && previous.seq > changeSeq ? { kind: 'stale' } : { kind: 'apply' };
    }
    case 'edit':
      if (target.senderUserId !== sender.userId) return invalid('only the sender may edit a message');
      if (content.type !== 'text' && content.type !== 'attachment') return invalid('only text and captions can be edited');
      if (change.sentAt - content.sentAt > EDIT_WINDOW_MS) return invalid('past the edit time limit');
      return target.edit !== undefined && target.edit.seq > changeSeq ? { kind: 'stale' } : { kind: 'apply' };
    case 'delete':
      if (target.senderUserId !== sender.userId) return invalid('only the sender may delete a message for everyone');
      if (change.sentAt - content.sentAt > DELETE_WINDOW_MS) return invalid('past the delete time limit');
      return { kind: 'apply' };
  }
}

/**
 * The stored plaintext after an edit: the content with the new text, so the
 * text it replaced is not kept on the device. (If that would not encode —
 * only a caption edit pushing an attachment with a large thumbnail past the
 * content size limit — the original bytes stay and the edit is applied on read.)
 */
function replacedPlaintext(content: MessageRecord['content'], original: Uint8Array): Uint8Array {
  if (content.type === 'notice' || content.type === 'deleted') return original;
  try {
    return encodeContent(content);
  } catch {
    return original;
  }
}

/** The record with the change applied (checkChange said `apply`). */
export function applyChange(target: MessageRecord, change: ChangeContent, changeSeq: number, senderUserId: UserId): MessageRecord {
  switch (change.type) {
    case 'reaction': {
      const others = (target.reactions ?? []).filter((r) => r.userId !== senderUserId);
      return { ...target, reactions: [...others, { userId: senderUserId, emoji: change.emoji, seq: changeSeq }] };
    }
    case 'edit': {
      const c = target.content;
      const content = c.type === 'text' ? { ...c, text: change.text } : c.type === 'attachment' ? { ...c, caption: change.text } : c;
      return { ...target, content, plaintext: replacedPlaintext(content, target.plaintext), edit: { seq: changeSeq, text: change.text, editedAt: change.sentAt } };
    }
    case 'delete': {
      const { reactions: _r, edit: _e, ...rest } = target;
      return {
        ...rest,
        content: { type: 'deleted', v: 1, id: target.content.id, sentAt: target.content.sentAt, deletedAt: change.sentAt },
        plaintext: new Uint8Array(0),
        deletedSeq: changeSeq,
      };
    }
  }
}
