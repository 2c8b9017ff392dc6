import { useRef, useState } from 'react';
import type { Conversation, ConversationPrefs, ParleyClient } from '@parley/client';
import { Icon } from '../../components/Dialog';
import { MenuItem, Popover } from '../../components/Popover';
import { DisappearingDialog } from '../../dialogs/DisappearingDialog';
import { timerLabel } from '../../lib/disappearing';

/** Mute, pin and archive: the same three toggles in the conversation's menu and in the list's. */
export function PrefsItems(props: { client: ParleyClient; conversation: Conversation; onDone: () => void; onError: (err: unknown) => void }) {
  const c = props.conversation;
  const set = (prefs: ConversationPrefs) => () => {
    props.onDone();
    props.client.setConversationPrefs(c.id, prefs).catch(props.onError);
  };
  return (
    <>
      <MenuItem onSelect={set({ muted: !c.muted })}>
        <Icon name="muted" size={18} /> {c.muted ? 'Unmute' : 'Mute'}
      </MenuItem>
      <MenuItem onSelect={set({ pinned: !c.pinned })}>
        <Icon name="pin" size={18} /> {c.pinned ? 'Unpin' : 'Pin'}
      </MenuItem>
      <MenuItem onSelect={set({ archived: !c.archived })}>
        <Icon name="archive" size={18} /> {c.archived ? 'Unarchive' : 'Archive'}
      </MenuItem>
    </>
  );
}

/** The header's "Conversation options" menu (the conversation's settings): disappearing messages, mute, pin, archive. */
export function ConversationMenu(props: { client: ParleyClient; conversation: Conversation; onError: (err: unknown) => void }) {
  const { client, conversation: conv } = props;
  const button = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState<'menu' | 'disappearing' | null>(null);
  const active = conv.status === 'active';
  return (
    <>
      <button
        ref={button}
        type="button"
        className="icon-button"
        aria-label="Conversation options"
        aria-haspopup="menu"
        aria-expanded={open === 'menu'}
        onClick={() => setOpen((o) => (o === 'menu' ? null : 'menu'))}
      >
        <Icon name="more" />
      </button>
      {open === 'menu' && (
        <Popover anchor={button} onClose={() => setOpen(null)} role="menu" label="Conversation options" align="end">
          {active && (
            <MenuItem onSelect={() => setOpen('disappearing')}>
              <Icon name="timer" size={18} /> Disappearing messages
              <span className="muted small menu-hint">{timerLabel(conv.disappearAfterMs)}</span>
            </MenuItem>
          )}
          <PrefsItems client={client} conversation={conv} onDone={() => setOpen(null)} onError={props.onError} />
        </Popover>
      )}
      {open === 'disappearing' && (
        <DisappearingDialog
          current={conv.disappearAfterMs}
          onChoose={async (ms) => {
            await client.setDisappearing(conv.id, ms);
          }}
          onClose={() => setOpen(null)}
        />
      )}
    </>
  );
}
