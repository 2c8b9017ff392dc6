/**
 * The web app's people book (apps/web/src/lib/people.ts): how a person is
 * named (nickname > display name > username), and that names and pictures
 * follow the client's 'contacts' and 'profile' events. The client here is a
 * stand-in with the few members the book uses; the browser test
 * (people.test.ts) runs the book against the real SDK and server.
 */
import assert from 'node:assert/strict';
import { resolveObjectURL } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Contact, ParleyClient, Profile, UserId } from '@parley/client';
import { PeopleBook, pickName, UNKNOWN_USER } from '../apps/web/src/lib/people.js';

const ME = 'me-user-id-0000000000' as UserId;
const ANN = 'ann-user-id-000000000' as UserId;

function fakeClient(options: { contacts?: Contact[]; profiles?: Map<UserId, Profile>; pictures?: Map<UserId, Uint8Array> } = {}) {
  const events = new EventEmitter();
  const calls = { get: 0, picture: 0 };
  const client = {
    userId: ME,
    on: (e: string, f: (...a: unknown[]) => void) => events.on(e, f),
    off: (e: string, f: (...a: unknown[]) => void) => events.off(e, f),
    contacts: { list: () => Promise.resolve(options.contacts ?? []) },
    profiles: {
      mine: () => Promise.resolve(options.profiles?.get(ME) ?? { userId: ME, displayName: null, about: null, hasPicture: false, updatedAt: 0 }),
      get: (id: UserId) => {
        calls.get++;
        return Promise.resolve(options.profiles?.get(id) ?? null);
      },
      picture: (id: UserId) => {
        calls.picture++;
        return Promise.resolve(options.pictures?.get(id) ?? null);
      },
    },
  };
  return { client: client as unknown as ParleyClient, events, calls };
}

/** Resolves once the book told its subscribers about a change. */
function changed(book: PeopleBook): Promise<void> {
  return new Promise((resolve) => {
    const off = book.subscribe(() => {
      off();
      resolve();
    });
  });
}

describe('web people book', () => {
  it('names a person by nickname, else display name, else username (blank ones do not count)', () => {
    assert.equal(pickName('Annie', 'Ann Smith', 'ann'), 'Annie');
    assert.equal(pickName('  ', 'Ann Smith', 'ann'), 'Ann Smith');
    assert.equal(pickName(null, ' ', 'ann'), 'ann');
    assert.equal(pickName(undefined, undefined, null), UNKNOWN_USER);
  });

  it('shows the username until the profile is read, then the display name; a nickname wins; events update both', async () => {
    const profile: Profile = { userId: ANN, displayName: 'Ann Smith', about: null, hasPicture: false, updatedAt: 1 };
    const { client, events, calls } = fakeClient({ profiles: new Map([[ANN, profile]]) });
    const book = new PeopleBook(client);
    const loaded = changed(book);
    assert.equal(book.name(ANN, 'ann'), 'ann');
    await loaded;
    await new Promise((r) => setImmediate(r));
    assert.equal(book.name(ANN, 'ann'), 'Ann Smith');
    book.name(ANN, 'ann');
    assert.equal(calls.get, 1, 'a profile is read once, then kept');

    const renamed = changed(book);
    events.emit('profile', { ...profile, displayName: 'Ann Jones', updatedAt: 2 });
    await renamed;
    assert.equal(book.name(ANN, 'ann'), 'Ann Jones');

    const nicknamed = changed(book);
    events.emit('contacts', [{ userId: ANN, username: 'ann', nickname: 'Mum', addedAt: 1 }]);
    await nicknamed;
    assert.equal(book.name(ANN, 'ann'), 'Mum');
    assert.equal(book.isContact(ANN), true);
    book.close();
  });

  it('makes a blob URL of a picture, a new one when the profile changes, and revokes the old', async () => {
    const first: Profile = { userId: ANN, displayName: null, about: null, hasPicture: true, updatedAt: 1 };
    const pictures = new Map([[ANN, new Uint8Array([1, 2, 3])]]);
    const { client, events } = fakeClient({ profiles: new Map([[ANN, first]]), pictures });
    const book = new PeopleBook(client);
    assert.equal(book.pictureUrl(ANN), null);
    await changed(book); // the profile
    assert.equal(book.pictureUrl(ANN), null);
    await changed(book); // the picture
    const url = book.pictureUrl(ANN);
    assert.ok(url !== null && url.startsWith('blob:'));
    assert.deepEqual(new Uint8Array((await resolveObjectURL(url)?.arrayBuffer()) ?? []), new Uint8Array([1, 2, 3]));

    pictures.set(ANN, new Uint8Array([4, 5]));
    const update = changed(book);
    events.emit('profile', { ...first, updatedAt: 2 });
    await update;
    book.pictureUrl(ANN);
    await changed(book);
    const next = book.pictureUrl(ANN);
    assert.ok(next !== null && next !== url);
    assert.equal(resolveObjectURL(url), undefined, 'the old URL is revoked');

    const removed = changed(book);
    events.emit('profile', { ...first, hasPicture: false, updatedAt: 3 });
    await removed;
    assert.equal(book.pictureUrl(ANN), null);
    book.close();
    assert.equal(resolveObjectURL(next), undefined, 'closing revokes every URL');
  });
});
