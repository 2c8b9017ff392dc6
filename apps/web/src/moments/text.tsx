import { Fragment } from 'react';
import { ClientError } from '@parley/client';
import { describeError } from '../lib/errors';
import { MAX_MOMENT_PHOTOS, MAX_MOMENT_TEXT_LENGTH } from './limits';
import { splitLinks } from './format';

/** Text with web links made clickable (opened in a new tab with no referrer); everything else stays plain text, never HTML. */
export function Linkified(props: { text: string }) {
  return (
    <>
      {splitLinks(props.text).map((part, i) =>
        part.href === null ? (
          <Fragment key={i}>{part.text}</Fragment>
        ) : (
          <a key={i} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
            {part.text}
          </a>
        ),
      )}
    </>
  );
}

/** What went wrong with a post, like or comment, in plain words. */
export function describeMomentError(err: unknown): string {
  if (err instanceof ClientError) {
    if (err.code === 'too_large') return `That post is too large: at most ${MAX_MOMENT_PHOTOS} photos of up to 15 MB each, and ${MAX_MOMENT_TEXT_LENGTH.toLocaleString()} characters.`;
    if (err.code === 'bad_request') return 'That cannot be posted: a post needs some text or a photo, and the audience must name a list.';
    if (err.code === 'not_found') return 'That post is no longer there.';
  }
  return describeError(err);
}

