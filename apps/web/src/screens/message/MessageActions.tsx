import { useRef, useState } from 'react';
import { Icon } from '../../components/Dialog';
import { MenuItem, Popover } from '../../components/Popover';
import { ReactionPicker } from './Reactions';

export interface MessageActionHandlers {
  onReply: () => void;
  onReact: (emoji: string) => void;
  /** Absent when this message cannot be edited (not yours, not text, too old). */
  onEdit?: () => void;
  /** Absent when this message cannot be deleted for everyone. */
  onDelete?: () => void;
  /** Absent when there is nothing to show (incoming messages). */
  onInfo?: () => void;
}

/** The "Message actions" button on a bubble and its menu (reply, react, edit, delete, info). */
export function MessageActions(props: MessageActionHandlers & { outgoing: boolean }) {
  const button = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState<'menu' | 'react' | null>(null);
  const close = () => setOpen(null);
  const run = (fn: () => void) => () => {
    close();
    fn();
  };
  return (
    <>
      <button
        ref={button}
        type="button"
        className={`icon-button small message-actions-button${open !== null ? ' open' : ''}`}
        aria-label="Message actions"
        aria-haspopup="menu"
        aria-expanded={open === 'menu'}
        onClick={() => setOpen((o) => (o === null ? 'menu' : null))}
      >
        <Icon name="more" size={18} />
      </button>
      {open === 'menu' && (
        <Popover anchor={button} onClose={close} role="menu" label="Message actions" align={props.outgoing ? 'end' : 'start'}>
          <MenuItem onSelect={run(props.onReply)}>
            <Icon name="reply" size={18} /> Reply
          </MenuItem>
          <MenuItem onSelect={() => setOpen('react')}>
            <Icon name="smile" size={18} /> React
          </MenuItem>
          {props.onEdit !== undefined && (
            <MenuItem onSelect={run(props.onEdit)}>
              <Icon name="edit" size={18} /> Edit
            </MenuItem>
          )}
          {props.onInfo !== undefined && (
            <MenuItem onSelect={run(props.onInfo)}>
              <Icon name="info" size={18} /> Info
            </MenuItem>
          )}
          {props.onDelete !== undefined && (
            <MenuItem onSelect={run(props.onDelete)} danger>
              <Icon name="trash" size={18} /> Delete for everyone
            </MenuItem>
          )}
        </Popover>
      )}
      {open === 'react' && (
        <ReactionPicker
          anchor={button}
          align={props.outgoing ? 'end' : 'start'}
          onClose={close}
          onPick={(emoji) => {
            close();
            props.onReact(emoji);
          }}
        />
      )}
    </>
  );
}
