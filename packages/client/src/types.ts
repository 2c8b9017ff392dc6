import type { MomentEvent } from './moments/moment-types.js';
import type { MessageContent } from '@parley/crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { ConversationStatus } from './store/records.js';
import type { ConnectionState } from './transport/connection.js';
import type { Profile } from './profiles/profile-types.js';

/** The public shapes the client hands out. */

export interface ConversationMember {
  readonly userId: UserId;
  /** Null until a roster message named the user (see meta.ts). */
  readonly username: string | null;
  /** The user's devices that are members (MLS leaves). */
  readonly devices: readonly DeviceId[];
}

/** What a conversation was created as: a 1:1 chat, or a group (which stays a group at any size). */
export type ConversationKind = 'direct' | 'group';

export interface Conversation {
  /** The MLS group id (base64url), also the server's group id. */
  readonly id: GroupId;
  readonly title: string | null;
  /** Null for a moment after joining, until the conversation's roster arrives. */
  readonly kind: ConversationKind | null;
  readonly members: readonly ConversationMember[];
  /** `removed`: another member removed this device; `left`: this user left. Both are read-only history. */
  readonly status: ConversationStatus;
  readonly createdAt: number;
  /** The read position: messages up to this seq are read (see `markRead`; sending a message also moves it). */
  readonly readSeq: number;
  /** Stored messages from other users with a seq above `readSeq`. */
  readonly unread: number;
  /** Disappearing messages: the timer in force for new messages (ms; null: off). Set by any member with `setDisappearing`. */
  readonly disappearAfterMs: number | null;
  /** This user's own view (`setConversationPrefs`), the same on all of the user's devices. */
  readonly muted: boolean;
  /** Pinned conversations come first in `conversationSummaries`. */
  readonly pinned: boolean;
  /** Archived: still listed (flagged); the app shows it apart. A message from someone else unarchives it unless it is muted. */
  readonly archived: boolean;
  /**
   * A message request (people/): someone who is not a contact added this user. Kept out of
   * `conversationSummaries` (see `client.requests`); no read receipts, typing or profile key go out until accepted.
   */
  readonly request: boolean;
  /** Who added this user's devices (the committer of the Welcome); null: this user created it, or it is not known. */
  readonly invitedBy: UserId | null;
}

/** Someone in this user's contact list (client.contacts), synced between the user's devices. */
export interface Contact {
  readonly userId: UserId;
  readonly username: string;
  /** This user's own name for the contact (never sent to them); null: none. */
  readonly nickname: string | null;
  readonly addedAt: number;
}

/** A user this user blocked (client.blocks), synced between the user's devices. */
export interface BlockedUser {
  readonly userId: UserId;
  /** Null when the name was not known when blocking (blocked by id). */
  readonly username: string | null;
  readonly blockedAt: number;
}

/** What `setConversationPrefs` changes (the others stay as they are). */
export interface ConversationPrefs {
  readonly muted?: boolean;
  readonly pinned?: boolean;
  readonly archived?: boolean;
}

/** Disappearing messages that every device deleted at their `expiresAt` (remove them from the view). */
export interface ExpiredEvent {
  readonly conversationId: GroupId;
  readonly seqs: readonly number[];
}

/**
 * History on a newly linked device (approveLink's `history` option), on the new device:
 * `importing` when an archive arrived, then `imported` (`messages`: how many were stored) or
 * `failed` (`reason`: download_failed, digest_mismatch, decrypt_failed, hash_mismatch,
 * invalid_archive, store_failed) — then nothing of it was stored.
 */
export interface HistoryEvent {
  readonly state: 'importing' | 'imported' | 'failed';
  readonly messages?: number;
  readonly reason?: string;
  /** `importing` again: the archive waits for this many of its conversations to reach this device (their Welcome), at most a minute. */
  readonly waitingFor?: number;
}

/** A conversation as a conversation list shows it (`conversationSummaries`). */
export interface ConversationSummary extends Conversation {
  /** The latest stored message, or null if there is none yet. */
  readonly lastMessage: Message | null;
  /** Messages from other users above the read position (this user's own messages, from any device, never count). */
  readonly unread: number;
  /** `lastMessage.receivedAt`, else `createdAt` (this device's clock); the list is sorted by it, newest first. */
  readonly lastActivityAt: number;
}

export interface MessagesOptions {
  /** Only messages with a seq above this one. */
  readonly afterSeq?: number;
  /** Only messages with a seq below this one; with `limit`, the `limit` messages just below it. */
  readonly beforeSeq?: number;
  /** At most this many: the oldest in range, unless `beforeSeq` or `latest` is given (then the newest). */
  readonly limit?: number;
  /** With `limit`: the last `limit` messages (the newest page). */
  readonly latest?: boolean;
}

export interface UserRef {
  readonly userId: UserId;
  /** The name as the server spells it (normalised). */
  readonly username: string;
}

export interface Verification {
  /** 60 digits in groups of 5, the same on both sides. */
  readonly safetyNumber: string;
  /** True while the safety number equals the one stored when the user verified it. */
  readonly verified: boolean;
}

export interface LogoutOptions {
  /** Also delete everything in the local store, even if the server cannot be reached. */
  readonly wipe?: boolean;
}

/**
 * A line the client itself writes into a conversation's history (never
 * received from anyone: decodeContent refuses this type from the wire).
 */
export type Notice =
  | {
      /** Devices of a member were added or removed (or all replaced: `reset`, the user started over). */
      readonly kind: 'safety_number_changed';
      readonly userId: UserId;
      readonly username: string | null;
      readonly added: number;
      readonly removed: number;
      readonly reset: boolean;
    }
  | {
      /** A change naming a device the directory does not vouch for was refused (it was never shown as this user). */
      readonly kind: 'device_refused';
      readonly userId: UserId;
      readonly username: string | null;
      readonly deviceId: DeviceId;
    }
  | {
      /** "Some messages could not be decrypted": this device lost its state for the conversation and asked to be re-added (healing/). */
      readonly kind: 'messages_undecryptable';
    };

export interface NoticeContent {
  readonly type: 'notice';
  readonly v: 1;
  readonly id: string;
  /** This device's clock when it wrote the notice. */
  readonly sentAt: number;
  readonly notice: Notice;
}

/** What a message deleted for everyone reads as (local only, like a notice: never sent). */
export interface DeletedContent {
  readonly type: 'deleted';
  readonly v: 1;
  /** The deleted message's content id and sentAt (sender's clock). */
  readonly id: string;
  readonly sentAt: number;
  /** The delete's sentAt (the sender's clock). */
  readonly deletedAt: number;
}

export interface SendOptions {
  /** Send although a member this user verified has a new safety number (verification stays reset until setVerified). */
  readonly confirmSafetyNumberChange?: boolean;
  /** Quote an earlier message of the conversation (it must be on this device and not deleted). */
  readonly replyTo?: MessageTarget;
  /**
   * The content id of a send that failed with `disconnected` (`detail.contentId`): waits for sync; if the
   * first copy reached the server, resolves with it (no second copy), else sends again with the same id.
   */
  readonly retryOf?: string;
}

export interface Message {
  readonly conversationId: GroupId;
  /** The server's gap-free sequence number within the conversation. */
  readonly seq: number;
  readonly sender: { readonly userId: UserId; readonly deviceId: DeviceId; readonly username: string | null };
  readonly outgoing: boolean;
  /** The sender's clock (inside the ciphertext). */
  readonly sentAt: number;
  /** This device's clock when it stored the message. */
  readonly receivedAt: number;
  /**
   * What was sent, or a notice this device wrote (`type: 'notice'`; stored at
   * the seq of the commit that caused it, several may share one seq; its
   * sender is this device; never unread). Edited: the latest text (or
   * caption). Deleted for everyone: `type: 'deleted'`.
   */
  readonly content: MessageContent | NoticeContent | DeletedContent;
  /** The content id (a notice's own id). Changes name a message by `{ seq, id }`. */
  readonly id: string;
  /** The quoted message, resolved from this device's history (null: not a reply). */
  readonly replyTo: ReplyPreview | null;
  /** One entry per emoji, in the order they were first used; each person counts once per message. */
  readonly reactions: readonly ReactionSummary[];
  /** The latest edit's sentAt (the sender's clock), or null if never edited. */
  readonly editedAt: number | null;
  /** Deleted for everyone: `content` is `{ type: 'deleted', v: 1, id, sentAt, deletedAt }`. */
  readonly deleted: boolean;
  /**
   * This user's messages (from any of its devices): 'sent', 'delivered' or
   * 'read' from the receipts of the other members (see `receipts`); null for
   * others' messages and notices. A change is emitted as `message` again.
   */
  readonly status: MessageStatus | null;
  /** Disappearing messages: when it is deleted on every device (ms, this device's clock; null: never). */
  readonly expiresAt: number | null;
}

/** Of this user's own messages: 'read' by every other member, 'delivered' to a device of every other member, else 'sent'. */
export type MessageStatus = 'sent' | 'delivered' | 'read';

/** Who of the other members stored and read a message (`receipts`): "Read by 3 of 5". */
export interface ReceiptSummary {
  /** Empty while this user does not share read receipts (then others' are not shown either). */
  readonly readBy: readonly UserRef[];
  readonly deliveredTo: readonly UserRef[];
  /** How many other member users the conversation has. */
  readonly others: number;
}

/** Another member started or stopped typing (ephemeral; 'started' expires after ~6 s without a refresh). */
export interface TypingEvent {
  readonly conversationId: GroupId;
  readonly userId: UserId;
  readonly username: string | null;
  readonly typing: boolean;
}

export interface MessageUser {
  readonly userId: UserId;
  readonly username: string | null;
}

export interface ReplyPreview {
  readonly seq: number;
  readonly id: string;
  /** False when the quoted message is not on this device, was deleted, or the seq holds another message. */
  readonly available: boolean;
  readonly sender: MessageUser | null;
  /** The quoted text (its first 200 characters), "Photo", the file name or "Voice message"; null when unavailable. */
  readonly preview: string | null;
}

export interface ReactionSummary {
  readonly emoji: string;
  /** In the order they reacted. */
  readonly users: readonly MessageUser[];
  /** This user is among them. */
  readonly mine: boolean;
}

/** A message named by its group seq and content id (both are checked). */
export interface MessageTarget {
  readonly seq: number;
  readonly id: string;
}

export interface AttachmentInput {
  readonly attachment: Uint8Array;
  readonly mimeType: string;
  readonly fileName: string;
  readonly caption?: string;
}

/** A recorded voice message (content type `voice`); over the limits in @parley/crypto it is refused before upload (`too_large`). */
export interface VoiceInput {
  /** The recording (e.g. Opus in Ogg or WebM), at most MAX_VOICE_BYTES. */
  readonly voice: Uint8Array;
  /** An audio type: audio/ogg, audio/webm, audio/mp4, audio/mpeg, audio/aac or audio/wav, optionally with `;codecs=…`. */
  readonly mimeType: string;
  /** 1 to MAX_VOICE_DURATION_MS. */
  readonly durationMs: number;
  /** Loudness over the recording, one byte (0–255) per sample, at most MAX_WAVEFORM_SAMPLES. */
  readonly waveform: Uint8Array;
}

/** What this device keeps of the media it receives (stored in its store, see mediaSettings). */
export interface MediaSettings {
  /** Attachments and voice messages up to this size (bytes) are downloaded on arrival and kept; 0 keeps none. Default 25 MiB. */
  readonly autoDownloadMaxBytes: number;
}

/** The media this device keeps: total plaintext bytes and number of files. */
export interface MediaUsage {
  readonly bytes: number;
  readonly files: number;
}

export interface DeviceSummary {
  readonly id: DeviceId;
  /**
   * The name the device gave itself, decrypted on this device (the server
   * holds it encrypted under the account key). Null when it cannot be read:
   * not uploaded yet, sealed under a key this device does not hold yet, or
   * refused (tampered with: a `device_name` error event). Show "Unnamed device".
   */
  readonly name: string | null;
  readonly createdDay: string;
  /** `pending`: linked with the password, waiting for approval on an existing device (see approveLink). */
  readonly status: 'pending' | 'active' | 'revoked';
  readonly revoked: boolean;
  readonly current: boolean;
}

export interface MembershipEvent {
  readonly conversationId: GroupId;
  readonly addedDevices: readonly DeviceId[];
  readonly removedDevices: readonly DeviceId[];
  readonly members: readonly ConversationMember[];
  /** True when this device was removed (or left). */
  readonly removedSelf: boolean;
}

export interface ConnectionEvent {
  readonly state: ConnectionState | 'synced';
  readonly code?: number;
  readonly attempt?: number;
}

export type ClientEventErrorCode =
  /** A message decrypted but its content is not valid Parley content; the conversation goes on. */
  | 'malformed_content'
  /** A group message could not be decrypted or processed (MLS error); it is skipped. */
  | 'undecryptable'
  /** A device the server's directory does not vouch for was refused (the change or message naming it was skipped). */
  | 'unverified_member'
  /**
   * One of this account's own devices was left out of a conversation: the
   * directory lists it, but without an approval by another device of the
   * account that verifies (a server may have activated it on its own).
   */
  | 'device_unapproved'
  | 'join_failed'
  /**
   * The account key could not be created, received or shared in this user's
   * self group (a Welcome into it naming a device this device does not trust
   * is refused with this code); device names may show as unnamed meanwhile.
   */
  | 'account_key'
  /** A device name from the server decrypted under a held key but failed (tampered with, or moved from another device). */
  | 'device_name'
  /**
   * A reaction, edit or delete that names a message this device does not have
   * (or whose content id differs), or that its sender may not change (someone
   * else's message, past the time limit, a notice, already deleted, a removed
   * member): ignored, nothing changed.
   */
  | 'invalid_change'
  /**
   * A request to re-add a device to a conversation (healing/) was ignored: malformed, stale, a bad
   * signature, or a device that is not an active device of a member user (`ClientError.detail.reason`).
   */
  | 'rejoin_refused'
  /** A profile (or its picture) that does not decrypt or validate: ignored, the username is shown (profiles/). */
  | 'profile_invalid'
  /** Contacts, requests or blocks (people/) could not be synced or applied on this device; detail in the error. */
  | 'people'
  /** A history archive could not be sent (approving device) or imported (new device; see the 'history' event). */
  | 'history'
  /**
   * Moments traffic dropped (moments/): not in a 1:1 group of the pair, a post or comment from someone who
   * is not a friend, a delete from someone other than the author, a body that does not decrypt or validate.
   */
  | 'moment_invalid'
  | 'key_packages'
  | 'device_sync'
  | 'server'
  | 'fatal'
  | 'internal';

export interface ClientEventError {
  readonly code: ClientEventErrorCode;
  readonly conversationId?: GroupId;
  readonly seq?: number;
  readonly error: Error;
}

export interface ClientEvents {
  message: (message: Message) => void;
  conversation: (conversation: Conversation) => void;
  membership: (event: MembershipEvent) => void;
  connection: (event: ConnectionEvent) => void;
  error: (event: ClientEventError) => void;
  typing: (event: TypingEvent) => void;
  expired: (event: ExpiredEvent) => void;
  /** A profile (this user's or another's) changed on this device (client.profiles). */
  profile: (profile: Profile) => void;
  /** A history archive from the approving device (approveLink `history`): importing, imported or failed. */
  history: (event: HistoryEvent) => void;
  /** The contact list changed (here or on another device of this user). */
  contacts: (contacts: Contact[]) => void;
  /** The block list changed (here or on another device of this user). */
  blocks: (blocks: BlockedUser[]) => void;
  /** Something in Moments changed on this device (client.moments): the app reads what it shows again. */
  moments: (event: MomentEvent) => void;
}
