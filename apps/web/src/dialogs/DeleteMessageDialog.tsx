import { ConfirmDeleteDialog } from '../components/ConfirmDeleteDialog';
import { describeError } from '../lib/errors';

/** Asks before deleting a message for everyone (it cannot be undone). */
export function DeleteMessageDialog(props: { preview: string; onConfirm: () => Promise<unknown>; onClose: () => void }) {
  return (
    <ConfirmDeleteDialog title="Delete for everyone?" confirmLabel="Delete for everyone" preview={props.preview} onConfirm={props.onConfirm} describe={describeError} onClose={props.onClose}>
      The message is removed from this conversation on every device that receives the deletion, and “This message was deleted” is shown in its place. This cannot be undone.
    </ConfirmDeleteDialog>
  );
}
