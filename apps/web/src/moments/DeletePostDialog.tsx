import type { MomentPost, ParleyClient } from '@parley/client';
import { ConfirmDeleteDialog } from '../components/ConfirmDeleteDialog';
import { describeMomentError } from './text';

/** Asks before deleting an own post: it is removed from every device that got it, with its likes and comments. */
export function DeletePostDialog(props: { client: ParleyClient; post: MomentPost; onClose: () => void }) {
  return (
    <ConfirmDeleteDialog
      title="Delete this post?"
      confirmLabel="Delete post"
      preview={props.post.text.replace(/\s+/g, ' ').slice(0, 140)}
      onConfirm={() => props.client.moments.delete(props.post.id)}
      describe={describeMomentError}
      onClose={props.onClose}
    >
      It is removed, with its photos, likes and comments, from every device of yours and your friends’ that got it. This cannot be undone.
    </ConfirmDeleteDialog>
  );
}
