import { useCallback, useEffect, useMemo, useState } from 'react';
import type { Conversation, ParleyClient } from '@parley/client';
import { SignInAgain } from '../account/SignInAgain';
import { clearAttachmentCache } from '../components/Attachment';
import { Avatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { ContactInfo } from '../dialogs/ContactInfo';
import { InfoDialog } from '../dialogs/InfoDialog';
import { NewChatDialog } from '../dialogs/NewChatDialog';
import { NewGroupDialog } from '../dialogs/NewGroupDialog';
import { SettingsDialog } from '../dialogs/SettingsDialog';
import { ContactsDialog } from '../dialogs/ContactsDialog';
import { HistoryNotice } from '../linking/HistoryNotice';
import { MomentsNav } from '../moments/MomentsNav';
import { MomentsScreen } from '../moments/MomentsScreen';
import { useMomentsRoute } from '../moments/route';
import { useFaviconBadge } from '../notify/favicon';
import { AuthScreen } from '../screens/AuthScreen';
import { ConversationList } from '../screens/ConversationList';
import { ConversationView } from '../screens/ConversationView';
import { RequestList } from '../screens/RequestList';
import { RequestView } from '../screens/RequestView';
import { SidebarSearch } from '../search/SidebarSearch';
import { useConnection, useConversationSummaries, useRequests, useSelectedConversation } from './hooks';
import { PeopleProvider, usePeople } from './people';
import { ClientProvider, SessionProvider, useSession, useSessionState } from './session';

export function App() {
  const session = useSessionState();
  const { phase } = session;
  return (
    <SessionProvider value={session}>
      {phase.kind === 'loading' && (
        <div className="splash" aria-busy="true">
          <img src="/icons/icon.svg" alt="" width={64} height={64} />
          <span className="sr-only">Loading Parley</span>
        </div>
      )}
      {phase.kind === 'failed' && (
        <div className="splash">
          <p role="alert">{phase.message}</p>
        </div>
      )}
      {phase.kind === 'signed-out' && <AuthScreen client={phase.client} onSignedIn={session.signedIn} />}
      {phase.kind === 'signed-in' && (
        <ClientProvider value={phase.client}>
          {/* Signed in again after the session ended: the shell starts afresh, no state of the old session carries over. */}
          <PeopleProvider key={phase.epoch} client={phase.client}>
            <Main client={phase.client} />
          </PeopleProvider>
        </ClientProvider>
      )}
    </SessionProvider>
  );
}

type Open =
  | { kind: 'new-chat' }
  | { kind: 'new-group' }
  | { kind: 'settings' }
  | { kind: 'contacts' }
  | { kind: 'info' }
  | { kind: 'contact'; username: string }
  | { kind: 'image'; url: string; name: string }
  | null;

function Main(props: { client: ParleyClient }) {
  const { client } = props;
  const session = useSession();
  const connection = useConnection(client);
  const { list, refresh } = useConversationSummaries(client);
  const [selectedId, select, target] = useSelectedConversation();
  const [open, setOpen] = useState<Open>(null);
  const { requests, refresh: refreshRequests } = useRequests(client);
  // The sidebar shows the chats, or the message requests (kept apart until accepted).
  const [sidebar, setSidebar] = useState<'chats' | 'requests'>('chats');
  // Moments fills the pane while no conversation is open (#/moments); opening one (from the list, a search, a notification) leaves it.
  const clearSelection = useCallback(() => select(null), [select]);
  const [moments, openMoments, hideMoments] = useMomentsRoute(selectedId, clearSelection);
  const people = usePeople();
  const selected = list?.find((c) => c.id === selectedId) ?? null;
  const request = selected === null ? (requests?.find((c) => c.id === selectedId) ?? null) : null;
  // What the search can name: the chats and the requests (a result from a request opens it there).
  const searchable = useMemo(() => [...(list ?? []), ...(requests ?? [])], [list, requests]);
  const showMoments = moments && selected === null && request === null;
  const myName = client.userId !== undefined ? people.name(client.userId, client.username ?? null) : (client.username ?? '?');

  // The tab title and icon carry the unread total, like other messengers (muted conversations do not count).
  const unread = list?.reduce((n, c) => n + (c.muted ? 0 : c.unread), 0) ?? 0;
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
  }, [unread]);
  useFaviconBadge(unread);

  function opened(conv: Conversation) {
    setOpen(null);
    refresh();
    select(conv.id);
  }

  async function signOut() {
    clearAttachmentCache();
    await session.signOut();
  }

  return (
    <div className={`layout${selected !== null || request !== null || showMoments ? ' has-selection' : ''}`}>
      <aside className="sidebar">
        <header className="sidebar-header">
          <button type="button" className="me" aria-label="Settings" onClick={() => setOpen({ kind: 'settings' })}>
            <Avatar name={myName} size="sm" picture={client.userId !== undefined ? people.pictureUrl(client.userId) : null} />
            <span className="me-name" dir="auto">
              {myName}
            </span>
            <Icon name="settings" size={18} />
          </button>
          <span className={`connection connection-${connection.label === 'Connected' ? 'ok' : connection.label === 'Offline' ? 'off' : 'wait'}`} role="status" aria-label="Connection">
            <span className="dot" aria-hidden="true" />
            {connection.label}
          </span>
        </header>
        {connection.fatal === 'signed-out' && <SignInAgain username={client.username ?? ''} />}
        {connection.fatal === 'revoked' && (
          <div className="banner" role="alert">
            This device was revoked: removed from your account on another device, or the account started over. Sign out to use Parley here again.
            <button type="button" className="link-button" onClick={() => setOpen({ kind: 'settings' })}>
              Open settings
            </button>
          </div>
        )}
        <HistoryNotice client={client} />
        <div className="sidebar-actions">
          <button type="button" className="button primary" onClick={() => setOpen({ kind: 'new-chat' })}>
            <Icon name="chat" size={18} /> New chat
          </button>
          <button type="button" className="button" onClick={() => setOpen({ kind: 'new-group' })}>
            <Icon name="group" size={18} /> New group
          </button>
        </div>
        <div className="nav-row">
          <nav className="people-nav" aria-label="People">
            <button type="button" className="people-nav-item" onClick={() => setOpen({ kind: 'contacts' })}>
              <Icon name="contacts" size={18} /> Contacts
            </button>
            <button type="button" className="people-nav-item" aria-pressed={sidebar === 'requests'} onClick={() => setSidebar((v) => (v === 'requests' ? 'chats' : 'requests'))}>
              <Icon name="inbox" size={18} /> Requests
              {requests !== null && requests.length > 0 && (
                <span className="count">
                  {requests.length}
                  <span className="sr-only"> pending</span>
                </span>
              )}
            </button>
          </nav>
          <MomentsNav
            client={client}
            current={showMoments}
            onOpen={openMoments}
          />
        </div>
        {sidebar === 'requests' ? (
          <RequestList requests={requests} me={client.userId} selected={selectedId} onSelect={select} onBack={() => setSidebar('chats')} />
        ) : (
          <SidebarSearch client={client} conversations={searchable} me={client.userId} selected={selectedId} onOpen={(id, seq) => select(id, seq)}>
            <ConversationList client={client} list={list} me={client.userId} selected={selectedId} onSelect={select} />
          </SidebarSearch>
        )}
      </aside>

      <main className="pane">
        {selected !== null ? (
          <ConversationView
            key={selected.id}
            client={client}
            conversation={selected}
            target={target}
            onBack={() => select(null)}
            onOpenInfo={() => setOpen({ kind: 'info' })}
            onOpenImage={(url, name) => setOpen({ kind: 'image', url, name })}
            onOpenContact={(username) => setOpen({ kind: 'contact', username })}
          />
        ) : request !== null ? (
          <RequestView
            key={request.id}
            client={client}
            conversation={request}
            target={target}
            onBack={() => select(null)}
            onAccepted={() => {
              refresh();
              refreshRequests();
              setSidebar('chats');
            }}
            onGone={() => {
              select(null);
              refreshRequests();
            }}
            onOpenImage={(url, name) => setOpen({ kind: 'image', url, name })}
            onOpenContact={(username) => setOpen({ kind: 'contact', username })}
          />
        ) : showMoments ? (
          <MomentsScreen client={client} onBack={hideMoments} />
        ) : (
          <div className="empty-pane">
            <img src="/icons/icon.svg" alt="" width={72} height={72} />
            <h2>{list !== null && list.length > 0 ? 'Choose a conversation' : `Welcome, ${myName}`}</h2>
            <p className="muted">
              <Icon name="lock" size={14} /> Everything you send is encrypted on this device. The server passes it on without being able to read it.
            </p>
          </div>
        )}
      </main>

      {open?.kind === 'new-chat' && <NewChatDialog client={client} existing={list ?? []} onClose={() => setOpen(null)} onOpen={opened} />}
      {open?.kind === 'new-group' && <NewGroupDialog client={client} onClose={() => setOpen(null)} onOpen={opened} />}
      {open?.kind === 'settings' && <SettingsDialog client={client} onClose={() => setOpen(null)} onSignOut={signOut} />}
      {open?.kind === 'contacts' && <ContactsDialog client={client} existing={list ?? []} onClose={() => setOpen(null)} onOpen={opened} />}
      {open?.kind === 'info' && selected !== null && <InfoDialog client={client} conversation={selected} onClose={() => setOpen(null)} onLeft={() => setOpen(null)} />}
      {open?.kind === 'contact' && (
        <Dialog title="Contact info" onClose={() => setOpen(null)}>
          <ContactInfo client={client} username={open.username} />
        </Dialog>
      )}
      {open?.kind === 'image' && (
        <Dialog title={open.name} onClose={() => setOpen(null)} wide>
          <img className="lightbox" src={open.url} alt={open.name} />
        </Dialog>
      )}
    </div>
  );
}
