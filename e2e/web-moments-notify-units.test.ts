/**
 * Notifications for Moments (apps/web/src/notify/moments.ts): which notices
 * are new, what the one Moments notification says (with content shown and
 * hidden), where a click goes and when it is closed. The decide step runs
 * here against a stand-in with the few client members it reads; the browser
 * test (moments-notifications.test.ts) runs it in the service worker against
 * the real SDK and server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Contact, MomentNotice, ParleyClient, Profile, UserId } from '@parley/client';
import {
  closeSeenMoments,
  decideMoments,
  freshNotices,
  isSeenBy,
  momentsNotification,
  MOMENTS_ROUTE,
  MOMENTS_TAG,
  noticeHeadline,
  notificationRoute,
} from '../apps/web/src/notify/moments.js';
import { isOpenRoute } from '../apps/web/src/notify/routes.js';
import { GENERIC_BODY, GENERIC_TITLE, type NameOf } from '../apps/web/src/notify/rules.js';
import type { NotificationHost } from '../apps/web/src/notify/show.js';

const ME = 'me-user-id-0000000000' as UserId;
const ALICE = 'alice-user-id-0000000' as UserId;
const BOB = 'bob-user-id-000000000' as UserId;

function notice(over: Partial<MomentNotice> = {}): MomentNotice {
  return { id: `n${Math.random()}`, kind: 'comment', postId: 'post1', from: { userId: ALICE, username: 'alice' }, text: 'Lovely light', at: 1_000, seen: false, ...over };
}

const nameOf: NameOf = (userId, username) => (userId === ALICE ? 'Alice A.' : (username ?? '?'));

describe('Moments notifications: the rules', () => {
  it('only unseen notices from others, stored since the decision started, oldest first', () => {
    const all = [
      notice({ id: 'old', at: 900 }),
      notice({ id: 'seen', at: 1_100, seen: true }),
      notice({ id: 'mine', at: 1_200, from: { userId: ME, username: 'me' } }),
      notice({ id: 'b', at: 1_300 }),
      notice({ id: 'a', at: 1_000 }),
    ];
    assert.deepEqual(
      freshNotices(all, 1_000, ME).map((n) => n.id),
      ['a', 'b'],
    );
    assert.deepEqual(freshNotices(all, 2_000, ME), []);
  });

  it('says who and what: liked, commented (with the text), replied (with the text)', () => {
    assert.equal(noticeHeadline(notice({ kind: 'like', text: null }), nameOf), 'Alice A. liked your moment');
    assert.equal(noticeHeadline(notice(), nameOf), 'Alice A. commented on your moment');
    assert.equal(noticeHeadline(notice({ kind: 'reply', from: { userId: BOB, username: 'bob' } }), nameOf), 'bob replied to your comment');

    const one = momentsNotification([notice()], 1, nameOf, true);
    assert.deepEqual(one, { title: 'Alice A. commented on your moment', body: 'Lovely light', tag: MOMENTS_TAG, data: { moments: true, count: 1, at: 1_000 } });
    const like = momentsNotification([notice({ kind: 'like', text: null })], 1, nameOf, true);
    assert.deepEqual([like?.title, like?.body], ['Alice A. liked your moment', '']);
    const reply = momentsNotification([notice({ kind: 'reply', text: 'Agreed!' })], 1, nameOf, true);
    assert.deepEqual([reply?.title, reply?.body], ['Alice A. replied to your comment', 'Agreed!']);
    assert.equal(momentsNotification([], 3, nameOf, true), null, 'nothing new: nothing shown');
  });

  it('several notices: one notification with the count and the latest; the count is at least the new ones', () => {
    const several = momentsNotification([notice({ at: 1_000 }), notice({ kind: 'like', text: null, at: 1_001, from: { userId: BOB, username: 'bob' } })], 3, nameOf, true);
    assert.deepEqual(several, { title: '3 new in Moments', body: 'bob liked your moment', tag: MOMENTS_TAG, data: { moments: true, count: 3, at: 1_001 } });
    const withText = momentsNotification([notice({ at: 5 }), notice({ at: 6, text: 'Second one' })], 0, nameOf, true);
    assert.deepEqual([withText?.title, withText?.body], ['2 new in Moments', 'Alice A. commented on your moment: Second one']);
  });

  it('content hidden: "New message" only, never a name or the text', () => {
    for (const [fresh, unseen, body] of [
      [[notice()], 1, GENERIC_BODY],
      [[notice(), notice({ kind: 'reply' })], 2, '2 new messages'],
    ] as const) {
      const hidden = momentsNotification(fresh, unseen, nameOf, false);
      assert.deepEqual([hidden?.title, hidden?.body, hidden?.tag], [GENERIC_TITLE, body, MOMENTS_TAG]);
      const all = JSON.stringify(hidden);
      for (const secret of ['Alice', 'alice', 'Lovely']) assert.ok(!all.includes(secret), `${secret} in ${all}`);
      // What is on screen does not even say it is Moments (the tag and data are not shown).
      assert.ok(!/moment|comment|like|repl/i.test(`${hidden?.title} ${hidden?.body}`));
    }
  });

  it('names and text are made safe: direction overrides dropped, long text clipped, one line', () => {
    const spoof = momentsNotification([notice({ from: { userId: BOB, username: 'b\u202Eob\n2' }, text: `pay \u202Eevil\u202C ${'x'.repeat(500)}` })], 1, nameOf, true);
    assert.equal(spoof?.title, 'bob 2 commented on your moment');
    assert.ok(spoof !== null && spoof.body.startsWith('pay evil x') && spoof.body.length <= 180);
    assert.equal(noticeHeadline(notice(), () => '  '), 'Someone commented on your moment');
  });

  it('a click opens Moments (the only routes a page accepts: a conversation, Moments, the start)', () => {
    assert.equal(notificationRoute({ moments: true, count: 1, at: 1 }), MOMENTS_ROUTE);
    assert.equal(notificationRoute({ conversationId: 'abc_DEF-1', count: 1 }), '#/c/abc_DEF-1');
    assert.equal(notificationRoute({ moments: 'yes' }), '#/');
    assert.equal(notificationRoute(null), '#/');
    assert.equal(isOpenRoute({ type: 'parley-open', route: MOMENTS_ROUTE }), true);
    assert.equal(isOpenRoute({ type: 'parley-open', route: '#/moments/x' }), false);
    assert.equal(isOpenRoute({ type: 'parley-open', route: '#/c/abc' }), true);
  });

  it('closed once the notices it showed are seen (a newer unseen one keeps it for its own update)', () => {
    const data = { moments: true, count: 2, at: 1_000 };
    assert.equal(isSeenBy(data, [notice({ at: 900 }), notice({ at: 1_000 })]), false);
    assert.equal(isSeenBy(data, [notice({ at: 900, seen: true }), notice({ at: 1_000, seen: true })]), true, 'markSeen');
    assert.equal(isSeenBy(data, [notice({ at: 1_000, seen: true }), notice({ at: 1_500 })]), true);
    assert.equal(isSeenBy(data, []), true);
    assert.equal(isSeenBy({ conversationId: 'c', count: 1, seq: 1 }, []), false, 'not a Moments notification');
    assert.equal(isSeenBy({ moments: true, count: 1 }, [notice({ at: 5 })]), false, 'no time: closed only with nothing unseen');
  });
});

/** The members of ParleyClient the decide step reads: notices, contacts (nicknames), profiles (display names). */
function standIn(notices: MomentNotice[], options: { contacts?: Partial<Contact>[]; profiles?: Map<UserId, Partial<Profile>>; failNotices?: boolean } = {}) {
  const client = {
    userId: ME,
    moments: {
      notices: () => (options.failNotices === true ? Promise.reject(new Error('closed')) : Promise.resolve(notices)),
    },
    contacts: { list: () => Promise.resolve(options.contacts ?? []) },
    profiles: { get: (id: UserId) => Promise.resolve(options.profiles?.get(id) ?? null) },
  };
  return client as unknown as ParleyClient;
}

function host(shown: { data: unknown; closed: boolean }[]): NotificationHost {
  return {
    showNotification: () => Promise.resolve(),
    getNotifications: (filter) => Promise.resolve(filter?.tag === MOMENTS_TAG ? (shown.map((s) => ({ data: s.data, close: () => (s.closed = true) })) as unknown as Notification[]) : []),
  };
}

describe('Moments notifications: the decide step', () => {
  it('names the latest notice as the app does (nickname > display name > username), counting every unseen one', async () => {
    const client = standIn([notice({ at: 10, seen: true }), notice({ at: 20 }), notice({ at: 200, from: { userId: BOB, username: 'bob' }, text: 'Where is this?' })], {
      contacts: [{ userId: BOB, username: 'bob', nickname: 'Bobby' }],
    });
    const spec = await decideMoments(client, true, 100);
    assert.deepEqual(spec, { title: '2 new in Moments', body: 'Bobby commented on your moment: Where is this?', tag: MOMENTS_TAG, data: { moments: true, count: 2, at: 200 } });
    const alone = await decideMoments(standIn([notice({ at: 200, from: { userId: BOB, username: 'bob' } })], { profiles: new Map([[BOB, { displayName: 'Robert' }]]) }), true, 100);
    assert.equal(alone?.title, 'Robert commented on your moment');
  });

  it('nothing new since the decision started, or notices unreadable: nothing', async () => {
    assert.equal(await decideMoments(standIn([notice({ at: 50 })]), true, 100), null);
    assert.equal(await decideMoments(standIn([notice({ at: 500, seen: true })]), true, 100), null);
    assert.equal(await decideMoments(standIn([], { failNotices: true }), true, 100), null);
    const hidden = await decideMoments(standIn([notice({ at: 500 })]), false, 100);
    assert.deepEqual([hidden?.title, hidden?.body], [GENERIC_TITLE, GENERIC_BODY]);
  });

  it('closes the Moments notification once its notices are seen', async () => {
    const shown = [{ data: { moments: true, count: 1, at: 500 }, closed: false }];
    await closeSeenMoments(host(shown), standIn([notice({ at: 500 })]));
    assert.equal(shown[0]?.closed, false, 'still unseen');
    await closeSeenMoments(host(shown), standIn([notice({ at: 500, seen: true })]));
    assert.equal(shown[0]?.closed, true, 'seen');
  });
});
