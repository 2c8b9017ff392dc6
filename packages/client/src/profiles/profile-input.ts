import { MAX_ABOUT_LENGTH, MAX_DISPLAY_NAME_LENGTH, MAX_PICTURE_BYTES, normalizeProfileText, PROFILE_PICTURE_TYPES, profileTextProblem } from '@parley/crypto';
import type { ProfileData, ProfilePicture } from '@parley/crypto';
import type { UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { Profile, ProfileInput } from './profile-types.js';

/** What `set` was asked to change, checked and normalized before anything is uploaded. */
export interface CheckedInput {
  displayName: string | null | undefined;
  about: string | null | undefined;
  picture: { bytes: Uint8Array; mimeType: ProfilePicture['mimeType'] } | null | undefined;
}

function checkText(value: unknown, field: 'displayName' | 'about', max: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') throw new ClientError('bad_request', `${field} must be a string or null`);
  const text = normalizeProfileText(value);
  const problem = profileTextProblem(text, max);
  if (problem === 'empty') return null;
  if (problem === 'too_long') throw new ClientError('too_large', `${field} is at most ${max} characters`, { detail: { field, max } });
  if (problem === 'unsafe') throw new ClientError('bad_request', `${field} may not contain control characters or direction overrides`, { detail: { field } });
  return text;
}

export function checkInput(input: ProfileInput): CheckedInput {
  if (typeof input !== 'object' || input === null) throw new ClientError('bad_request', 'the profile input must be an object');
  const displayName = checkText(input.displayName, 'displayName', MAX_DISPLAY_NAME_LENGTH);
  const about = checkText(input.about, 'about', MAX_ABOUT_LENGTH);
  const p: unknown = input.picture;
  if (p === undefined || p === null) return { displayName, about, picture: p };
  const { bytes, mimeType } = p as { bytes?: unknown; mimeType?: unknown };
  if (!(bytes instanceof Uint8Array)) throw new ClientError('bad_request', 'picture.bytes must be a Uint8Array');
  if (bytes.length > MAX_PICTURE_BYTES) throw new ClientError('too_large', `a profile picture is at most ${MAX_PICTURE_BYTES} bytes`, { detail: { field: 'picture', maxBytes: MAX_PICTURE_BYTES } });
  if (bytes.length === 0) throw new ClientError('bad_request', 'a profile picture is not empty');
  if (!(PROFILE_PICTURE_TYPES as readonly unknown[]).includes(mimeType)) throw new ClientError('bad_request', `picture.mimeType must be one of ${PROFILE_PICTURE_TYPES.join(', ')}`);
  return { displayName, about, picture: { bytes, mimeType: mimeType as ProfilePicture['mimeType'] } };
}

export function view(userId: UserId, p: ProfileData): Profile {
  return { userId, displayName: p.displayName, about: p.about, hasPicture: p.picture !== null, updatedAt: p.updatedAt };
}

export function sameProfile(a: ProfileData | undefined, b: ProfileData | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.displayName === b.displayName && a.about === b.about && a.updatedAt === b.updatedAt && a.picture?.digest === b.picture?.digest;
}

export function isCode(err: unknown, code: string): boolean {
  return err instanceof ClientError && err.code === code;
}
