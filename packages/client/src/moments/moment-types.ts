import type { MomentWindow } from '@parley/crypto';
import type { UserId } from '@parley/protocol';

export type { MomentWindow };

/** Who a post goes to: every friend, only the members of some lists, or every friend except the members of some lists. */
export type MomentAudience = { readonly kind: 'friends' } | { readonly kind: 'lists'; readonly lists: readonly string[] } | { readonly kind: 'except'; readonly lists: readonly string[] };

export type MomentPhotoMime = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif';
export type MomentThumbnailMime = 'image/jpeg' | 'image/png' | 'image/webp';

/** A photo to post: the bytes as they will be shown, with their size in pixels and a small thumbnail (≤ 48 KiB) for the timeline. */
export interface MomentPhotoInput {
  readonly bytes: Uint8Array;
  readonly mimeType: MomentPhotoMime;
  readonly width: number;
  readonly height: number;
  readonly thumbnail?: { readonly mimeType: MomentThumbnailMime; readonly data: Uint8Array };
}

export interface MomentPostInput {
  /** Up to MAX_MOMENT_TEXT_LENGTH characters; a post has text or at least one photo. */
  readonly text?: string;
  /** Free text ("Lisbon"), up to MAX_MOMENT_LOCATION_LENGTH characters. */
  readonly location?: string;
  /** At most MAX_MOMENT_PHOTOS, each at most MAX_MOMENT_PHOTO_BYTES: refused before anything is uploaded. */
  readonly photos?: readonly MomentPhotoInput[];
  /** Default: all friends. */
  readonly audience?: MomentAudience;
}

/** A user as Moments shows them (the app adds nickname and profile). */
export interface MomentPerson {
  readonly userId: UserId;
  readonly username: string | null;
}

export interface MomentPhoto {
  readonly index: number;
  readonly mimeType: MomentPhotoMime;
  readonly width: number;
  readonly height: number;
  /** Plaintext size in bytes. */
  readonly size: number;
  readonly thumbnail: { readonly mimeType: MomentThumbnailMime; readonly data: Uint8Array } | null;
}

export interface MomentCommentView {
  readonly id: string;
  readonly author: MomentPerson;
  readonly text: string;
  /**
   * The comment this one answers. `author: null` when that comment is not on
   * this device (from someone who is not this user's friend): the app shows
   * "replied to a comment", never its text.
   */
  readonly replyTo: { readonly id: string; readonly author: MomentPerson | null } | null;
  readonly sentAt: number;
  readonly mine: boolean;
}

export interface MomentLike {
  readonly author: MomentPerson;
  readonly sentAt: number;
}

export interface MomentPost {
  readonly id: string;
  readonly author: MomentPerson;
  readonly mine: boolean;
  readonly postedAt: number;
  /** `loading`: the reference arrived and the body is being fetched; `failed`: the body could not be fetched or read. */
  readonly state: 'ready' | 'loading' | 'failed';
  readonly text: string;
  readonly location: string | null;
  readonly photos: readonly MomentPhoto[];
  /** Only from this user's friends (and the author), oldest first. */
  readonly likes: readonly MomentLike[];
  readonly likedByMe: boolean;
  readonly comments: readonly MomentCommentView[];
  /** Own posts: the audience chosen, and how many friends it went to. Null on others' posts. */
  readonly audience: MomentAudience | null;
  readonly sentTo: number | null;
}

/** A page of posts, newest first; `next` continues after the last one (null: the end). */
export interface MomentPage {
  readonly posts: readonly MomentPost[];
  readonly next: string | null;
}

/** A list of friends for audiences ("Close friends"): kept on this user's devices only, synced through the self group. */
export interface MomentList {
  readonly id: string;
  readonly name: string;
  readonly members: readonly UserId[];
  readonly updatedAt: number;
}

/** Someone liked or commented on this user's post, or replied to this user's comment. */
export interface MomentNotice {
  readonly id: string;
  readonly kind: 'like' | 'comment' | 'reply';
  readonly postId: string;
  readonly from: MomentPerson;
  /** The comment's text (null for a like). */
  readonly text: string | null;
  readonly at: number;
  readonly seen: boolean;
}

/** Something in Moments changed on this device: the app reads what it shows again. */
export interface MomentEvent {
  readonly kind: 'post' | 'removed' | 'comments' | 'notices' | 'lists' | 'friends' | 'window';
  readonly postId?: string;
}

export const MAX_MOMENT_LISTS = 50;
/** Friendship records one device passes to a new device of its user (one self-group message, under the 1 MiB frame). */
export const MAX_MOMENT_FRIENDS = 5_000;
export const MAX_MOMENT_LIST_NAME_LENGTH = 40;
export const MAX_MOMENT_LIST_MEMBERS = 5_000;
