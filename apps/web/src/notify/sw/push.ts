import { createClient, IndexedDbStore, type GroupId, type Message, type ParleyClient } from '@parley/client';
import { decide, type PendingNotification } from '../decide';
import { withDeviceLockIfFree } from '../device-lock';
import { closeSeenMoments, decideMoments } from '../moments';
import { readStoredSettings } from '../settings';
import { closeRead, showGeneric, showNotification, type NotificationHost } from '../show';
import type { ServiceWorkerScope } from './types';

/** The device's database (apps/web/src/app/session.tsx opens the same one). */
const DATABASE = 'parley';
/** How long a woken worker waits for the backlog before it gives up and says only "New message". */
export const SYNC_TIMEOUT_MS = 20_000;
/** With the app open but no tab visible: how long to give the page to show its own notification. */
const PAGE_GRACE_MS = 3_000;
/** The backlog is in once no message (or Moments notice) came for this long. */
const QUIET_MS = 400;

/** `late`: messages came in after the decision (while closing): one generic notification covers them. */
type Outcome = { readonly kind: 'decided'; readonly pending: readonly PendingNotification[]; readonly late: boolean } | { readonly kind: 'failed' };

/**
 * A push woke the worker. The push carries nothing (a constant wake-up, not
 * even read here): the device itself fetches what is waiting, decrypts it and
 * decides. Whoever runs the device decides: an open page does (its notifier),
 * else this worker runs a client of its own under the device lock. Anything
 * that stops it from deciding safely — the lock held elsewhere, no account, an
 * error, the backlog not in within SYNC_TIMEOUT_MS with nothing decrypted —
 * gives one generic "New message", never a guess.
 */
export async function onPush(scope: ServiceWorkerScope): Promise<void> {
  const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
  if (windows.length > 0) {
    // The page is connected and decides. Browsers want a push to show something when no tab is visible:
    // give the page a moment to show its own, then stop (a muted or already read message rightly shows nothing).
    if (!windows.some((w) => w.visibilityState === 'visible')) await pageGrace(scope);
    return;
  }
  const settings = await readStoredSettings();
  if (settings === null) {
    // Cannot tell whether the user wants these or what they may show: the least, and the subscription stays.
    await showGeneric(scope.registration);
    return;
  }
  if (!settings.enabled) {
    // Turned off here while the subscription lingered (its deletion failed): drop it now, show nothing.
    const sub = await scope.registration.pushManager.getSubscription().catch(() => null);
    await sub?.unsubscribe().catch(() => false);
    return;
  }
  let outcome: Outcome;
  try {
    const run = await withDeviceLockIfFree(() => runDevice(scope.location.origin, settings.showContent, scope.registration));
    outcome = run.ran ? run.value : { kind: 'failed' };
  } catch {
    outcome = { kind: 'failed' };
  }
  if (outcome.kind === 'failed') {
    await showGeneric(scope.registration);
    return;
  }
  for (const p of outcome.pending) await showNotification(scope.registration, p.spec);
  if (outcome.late) await showGeneric(scope.registration);
}

/**
 * Opens the device's store, runs a client until the backlog is in (bounded),
 * collects the messages it stored and decides (Moments notices too: a like,
 * comment or reply arrives as a message of the pair's hidden group and is
 * decided from the notices stored since); closes client and store before the
 * lock is let go.
 */
async function runDevice(origin: string, showContent: boolean, shown: NotificationHost): Promise<Outcome> {
  const since = Date.now();
  let store: IndexedDbStore | undefined;
  let client: ParleyClient | undefined;
  const events: Message[] = [];
  let notices = 0;
  const stored = () => events.length + notices;
  let outcome: Outcome = { kind: 'failed' };
  let decidedOn = 0;
  try {
    store = await IndexedDbStore.open(DATABASE);
    client = await createClient({ serverUrl: origin, store });
    if (client.userId === undefined) return { kind: 'failed' };
    let ended = false;
    client.on('message', (m) => {
      if (!m.outgoing) events.push(m);
    });
    client.on('moments', (e) => {
      if (e.kind === 'notices') notices++;
    });
    client.on('error', (e) => {
      if (e.code === 'fatal') ended = true;
    });
    const deadline = since + SYNC_TIMEOUT_MS;
    const synced = await Promise.race([client.whenSynced().then(() => true), delay(SYNC_TIMEOUT_MS).then(() => false)]);
    // What arrives just after the backlog (a message sent a moment after the one that woke us) is taken too:
    // the server does not push for it while this client is connected. Wait for a short quiet spell.
    let seen = -1;
    while (seen !== stored() && Date.now() < deadline) {
      seen = stored();
      await delay(QUIET_MS);
    }
    decidedOn = stored();
    const pending = await decide(client, events, showContent, since);
    const moments = await decideMoments(client, showContent, since);
    if (moments !== null) pending.push({ tag: moments.tag, spec: moments });
    await closeReadElsewhere(client, shown);
    await closeSeenMoments(shown, client);
    outcome = (!synced || ended) && pending.length === 0 ? { kind: 'failed' } : { kind: 'decided', pending, late: false };
  } catch {
    outcome = { kind: 'failed' };
  } finally {
    await client?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
  }
  // Stored while closing, after the decision: not dropped silently, not guessed at either.
  if (outcome.kind === 'decided' && stored() > decidedOn) return { ...outcome, late: true };
  return outcome;
}

/** Notifications of conversations read since (on another device of the user) are closed. */
async function closeReadElsewhere(client: ParleyClient, host: NotificationHost): Promise<void> {
  for (const n of await host.getNotifications().catch(() => [] as Notification[])) {
    const id = (n.data as { conversationId?: unknown } | null)?.conversationId;
    if (typeof id !== 'string') continue;
    const conversation = await client.conversation(id as GroupId).catch(() => undefined);
    if (conversation !== undefined) await closeRead(host, conversation.id, conversation.readSeq);
  }
}

async function pageGrace(scope: ServiceWorkerScope): Promise<void> {
  const deadline = Date.now() + PAGE_GRACE_MS;
  while (Date.now() < deadline) {
    if ((await scope.registration.getNotifications().catch(() => [])).length > 0) return;
    await delay(250);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
