/**
 * The SDK's Moments surface as the app uses it (`client.moments` and the
 * 'moments' event). Until the SDK exports these, the types are repeated here
 * from its moment-types; this file is the only place that knows.
 */
import type { ParleyClient, UserId } from '@parley/client';

export type MomentWindow = '3d' | '1m' | '6m' | 'all';
export type MomentAudience = { readonly kind: 'friends' } | { readonly kind: 'lists'; readonly lists: readonly string[] } | { readonly kind: 'except'; readonly lists: readonly string[] };
export type MomentPhotoMime = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif';
export type MomentThumbnailMime = 'image/jpeg' | 'image/png' | 'image/webp';

export interface MomentPhotoInput {
  readonly bytes: Uint8Array;
  readonly mimeType: MomentPhotoMime;
  readonly width: number;
  readonly height: number;
  readonly thumbnail?: { readonly mimeType: MomentThumbnailMime; readonly data: Uint8Array };
}

export interface MomentPostInput {
  readonly text?: string;
  readonly location?: string;
  readonly photos?: readonly MomentPhotoInput[];
  readonly audience?: MomentAudience;
}

export interface MomentPerson {
  readonly userId: UserId;
  readonly username: string | null;
}

export interface MomentPhoto {
  readonly index: number;
  readonly mimeType: MomentPhotoMime;
  readonly width: number;
  readonly height: number;
  readonly size: number;
  readonly thumbnail: { readonly mimeType: MomentThumbnailMime; readonly data: Uint8Array } | null;
}

export interface MomentCommentView {
  readonly id: string;
  readonly author: MomentPerson;
  readonly text: string;
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
  readonly state: 'ready' | 'loading' | 'failed';
  readonly text: string;
  readonly location: string | null;
  readonly photos: readonly MomentPhoto[];
  readonly likes: readonly MomentLike[];
  readonly likedByMe: boolean;
  readonly comments: readonly MomentCommentView[];
  readonly audience: MomentAudience | null;
  readonly sentTo: number | null;
}

export interface MomentPage {
  readonly posts: readonly MomentPost[];
  readonly next: string | null;
}

export interface MomentList {
  readonly id: string;
  readonly name: string;
  readonly members: readonly UserId[];
  readonly updatedAt: number;
}

export interface MomentNotice {
  readonly id: string;
  readonly kind: 'like' | 'comment' | 'reply';
  readonly postId: string;
  readonly from: MomentPerson;
  readonly text: string | null;
  readonly at: number;
  readonly seen: boolean;
}

export interface MomentEvent {
  readonly kind: 'post' | 'removed' | 'comments' | 'notices' | 'lists' | 'friends' | 'window';
  readonly postId?: string;
}

export interface PageOptions {
  readonly before?: string | null;
  readonly limit?: number;
}

export interface MomentsApi {
  post(input: MomentPostInput): Promise<MomentPost>;
  timeline(o?: PageOptions): Promise<MomentPage>;
  byUser(userId: UserId, o?: PageOptions): Promise<MomentPage>;
  get(postId: string): Promise<MomentPost | null>;
  delete(postId: string): Promise<void>;
  like(postId: string, liked: boolean): Promise<unknown>;
  comment(postId: string, text: string, o?: { replyTo?: string }): Promise<MomentCommentView>;
  deleteComment(postId: string, commentId: string): Promise<void>;
  photo(postId: string, index: number): Promise<Uint8Array>;
  friends(): Promise<MomentPerson[]>;
  lists(): Promise<MomentList[]>;
  saveList(list: { id?: string; name: string; members: UserId[] }): Promise<MomentList>;
  deleteList(id: string): Promise<void>;
  window(): Promise<MomentWindow>;
  setWindow(w: MomentWindow): Promise<void>;
  notices(): Promise<MomentNotice[]>;
  unseenCount(): Promise<number>;
  markSeen(): Promise<void>;
}

interface WithMoments {
  readonly moments: MomentsApi;
  on(event: 'moments', listener: (e: MomentEvent) => void): unknown;
  off(event: 'moments', listener: (e: MomentEvent) => void): unknown;
}

/** The client's Moments namespace. */
export function momentsOf(client: ParleyClient): MomentsApi {
  return (client as unknown as WithMoments).moments;
}

/** Subscribes to the client's 'moments' event; returns the unsubscribe. */
export function onMoments(client: ParleyClient, listener: (e: MomentEvent) => void): () => void {
  const c = client as unknown as WithMoments;
  c.on('moments', listener);
  return () => void c.off('moments', listener);
}
