import { MAX_MOMENT_PHOTO_BYTES, MAX_MOMENT_PHOTOS } from '@parley/client';

/** The Moments limits the app checks before it hands a post to the SDK (which checks them again), from the SDK. */
export {
  MAX_MOMENT_COMMENT_LENGTH,
  MAX_MOMENT_LIST_NAME_LENGTH,
  MAX_MOMENT_LOCATION_LENGTH,
  MAX_MOMENT_PHOTO_BYTES,
  MAX_MOMENT_PHOTOS,
  MAX_MOMENT_TEXT_LENGTH,
  MAX_MOMENT_THUMBNAIL_BYTES,
} from '@parley/client';

/** The visibility windows an author may choose, in the words the settings show. */
export const WINDOW_OPTIONS = [
  { value: '3d', label: 'Last 3 days' },
  { value: '1m', label: 'Last month' },
  { value: '6m', label: 'Last 6 months' },
  { value: 'all', label: 'All posts' },
] as const;

/** A file larger than this is not even decoded: it is refused as it is. */
export const MAX_PHOTO_FILE_BYTES = 4 * MAX_MOMENT_PHOTO_BYTES;

/** Why a chosen file cannot be posted, in plain words; null when it can. */
export function photoProblem(file: { name: string; size: number; type: string }): string | null {
  if (!file.type.startsWith('image/')) return `“${file.name}” is not a photo.`;
  if (file.size > MAX_PHOTO_FILE_BYTES) return `“${file.name}” is too large (at most ${MAX_PHOTO_FILE_BYTES / (1024 * 1024)} MB).`;
  return null;
}

/** The message when more photos are chosen than a post can hold; null when they fit. */
export function tooManyPhotos(have: number, adding: number): string | null {
  return have + adding > MAX_MOMENT_PHOTOS ? `A post holds at most ${MAX_MOMENT_PHOTOS} photos.` : null;
}
