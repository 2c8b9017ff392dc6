import type { UserId } from '@parley/protocol';

/** The public shapes of client.profiles. */

/** The image types a profile picture may have (the web app sends a downsized JPEG). */
export type ProfilePictureMimeType = 'image/jpeg' | 'image/png' | 'image/webp';

/** What `profiles.set` changes: `undefined` keeps a field, `null` removes it. */
export interface ProfileInput {
  /** Trimmed, white space collapsed, NFC; at most MAX_DISPLAY_NAME_LENGTH characters; an empty name removes it. */
  readonly displayName?: string | null | undefined;
  /** Like displayName, at most MAX_ABOUT_LENGTH characters. */
  readonly about?: string | null | undefined;
  /** At most MAX_PICTURE_BYTES (else `too_large`, before anything is uploaded). */
  readonly picture?: { readonly bytes: Uint8Array; readonly mimeType: ProfilePictureMimeType } | null | undefined;
}

/** A user's profile as this device last read it (its own, or one another user shared by sending the key). */
export interface Profile {
  readonly userId: UserId;
  readonly displayName: string | null;
  readonly about: string | null;
  /** The bytes come from `profiles.picture(userId)`. */
  readonly hasPicture: boolean;
  /** When the user last changed it (their device's clock, ms); 0: never set. */
  readonly updatedAt: number;
}
