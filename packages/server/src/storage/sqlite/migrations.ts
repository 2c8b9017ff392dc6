/**
 * SQLite schema, as numbered migrations. Append new ones; never edit an
 * applied migration. Tested on an empty database and on one holding data.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * Rebuilds a table other tables refer to: run with foreign key enforcement
   * off (SQLite's procedure for changing a table's definition), and checked
   * with PRAGMA foreign_key_check before the migration commits.
   */
  rebuildsTables?: true;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  skeleton TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_day TEXT NOT NULL
);
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  signature_key BLOB NOT NULL,
  created_day TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_user ON devices(user_id);
CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_device ON sessions(device_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE key_packages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL REFERENCES devices(id),
  ciphersuite INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_resort INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX key_packages_device ON key_packages(device_id, last_resort, id);
CREATE TABLE mls_groups (
  id TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  group_info BLOB
);
CREATE TABLE group_devices (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (group_id, device_id)
) WITHOUT ROWID;
CREATE INDEX group_devices_device ON group_devices(device_id);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  payload BLOB NOT NULL,
  extra BLOB,
  expires_at INTEGER NOT NULL
);
CREATE INDEX messages_group_seq ON messages(group_id, seq);
CREATE INDEX messages_expires ON messages(expires_at);
CREATE TABLE mailbox (
  device_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, message_id)
) WITHOUT ROWID;
CREATE INDEX mailbox_message ON mailbox(message_id);
CREATE INDEX mailbox_device_group ON mailbox(device_id, group_id, seq);
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  keep_until INTEGER NOT NULL
);
CREATE TABLE blob_refs (
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  PRIMARY KEY (message_id, digest)
) WITHOUT ROWID;
CREATE INDEX blob_refs_digest ON blob_refs(digest);
`,
  },
  {
    version: 2,
    name: 'group log with per-device cursors',
    // One row per message instead of one per recipient: a device's mailbox is
    // the group log after its cursor. Existing mailboxes become cursors just
    // below their oldest pending message; pending welcomes move to their own table.
    sql: `
CREATE TABLE group_messages (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('application', 'proposal', 'commit')),
  epoch INTEGER NOT NULL,
  payload BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, seq)
);
CREATE INDEX group_messages_expires ON group_messages(expires_at);
INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at)
  SELECT m.group_id, m.seq, m.kind, m.epoch, m.payload, m.expires_at FROM messages m
  WHERE m.kind <> 'welcome' AND EXISTS (SELECT 1 FROM mailbox b WHERE b.message_id = m.id);

CREATE TABLE welcomes (
  device_id TEXT NOT NULL REFERENCES devices(id),
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  welcome BLOB NOT NULL,
  group_info BLOB,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, group_id)
);
CREATE INDEX welcomes_expires ON welcomes(expires_at);
INSERT OR REPLACE INTO welcomes (device_id, group_id, seq, epoch, welcome, group_info, expires_at)
  SELECT b.device_id, m.group_id, m.seq, m.epoch, m.payload, m.extra, m.expires_at
  FROM mailbox b JOIN messages m ON m.id = b.message_id WHERE m.kind = 'welcome';

CREATE TABLE group_cursors (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  acked_seq INTEGER NOT NULL,
  until_seq INTEGER,
  leave_expires_at INTEGER,
  PRIMARY KEY (group_id, device_id)
) WITHOUT ROWID;
INSERT INTO group_cursors (group_id, device_id, acked_seq)
  SELECT d.group_id, d.device_id,
    COALESCE((SELECT MIN(b.seq) - 1 FROM mailbox b JOIN messages m ON m.id = b.message_id
              WHERE b.device_id = d.device_id AND b.group_id = d.group_id AND m.kind <> 'welcome'), g.last_seq)
  FROM group_devices d JOIN mls_groups g ON g.id = d.group_id;
INSERT INTO group_cursors (group_id, device_id, acked_seq, until_seq, leave_expires_at)
  SELECT b.group_id, b.device_id, MIN(b.seq) - 1, MAX(b.seq), MAX(m.expires_at)
  FROM mailbox b JOIN messages m ON m.id = b.message_id
  WHERE m.kind <> 'welcome' AND NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = b.group_id AND d.device_id = b.device_id)
  GROUP BY b.group_id, b.device_id;

CREATE TABLE blob_refs_v2 (
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  PRIMARY KEY (group_id, seq, digest),
  FOREIGN KEY (group_id, seq) REFERENCES group_messages(group_id, seq) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO blob_refs_v2 (group_id, seq, digest)
  SELECT m.group_id, m.seq, r.digest FROM blob_refs r JOIN messages m ON m.id = r.message_id
  WHERE EXISTS (SELECT 1 FROM group_messages g WHERE g.group_id = m.group_id AND g.seq = m.seq);

DROP TABLE blob_refs;
DROP TABLE mailbox;
DROP TABLE messages;
DROP TABLE group_devices;
ALTER TABLE group_cursors RENAME TO group_devices;
ALTER TABLE blob_refs_v2 RENAME TO blob_refs;
CREATE INDEX group_devices_device ON group_devices(device_id);
CREATE INDEX blob_refs_digest ON blob_refs(digest);
`,
  },
  {
    version: 3,
    name: 'device status, links and sign-in challenges',
    // A device is pending (linked with the password, waiting for an existing
    // device's approval), active or revoked; revoked rows keep their key so the
    // directory can vouch for history. When a device was revoked before this
    // migration is unknown: it gets the migration time rounded up to the hour,
    // which is later than the truth, so old commits adding it still verify.
    sql: `
ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'revoked'));
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
ALTER TABLE devices ADD COLUMN approved_by TEXT;
UPDATE devices SET status = 'revoked', revoked_at = ((CAST(strftime('%s', 'now') AS INTEGER) + 3599) / 3600) * 3600 WHERE revoked <> 0;
ALTER TABLE devices DROP COLUMN revoked;

CREATE TABLE device_links (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  code_hash BLOB NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX device_links_code ON device_links(user_id, code_hash);
CREATE INDEX device_links_expires ON device_links(expires_at);

-- No reference to devices: challenges are issued for any well-formed request.
CREATE TABLE session_challenges (
  challenge_hash BLOB PRIMARY KEY,
  device_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX session_challenges_expires ON session_challenges(expires_at);
`,
  },
  {
    version: 4,
    name: 'one welcome per commit',
    // A Welcome is stored once per commit and its recipients point at it,
    // instead of one copy per recipient. Existing copies of one commit's
    // Welcome are identical: the first is kept.
    sql: `
CREATE TABLE welcomes_v2 (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  welcome BLOB NOT NULL,
  group_info BLOB,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, seq)
);
INSERT INTO welcomes_v2 (group_id, seq, epoch, welcome, group_info, expires_at)
  SELECT w.group_id, w.seq, w.epoch, w.welcome, w.group_info, w.expires_at FROM welcomes w
  WHERE w.rowid = (SELECT MIN(x.rowid) FROM welcomes x WHERE x.group_id = w.group_id AND x.seq = w.seq);

CREATE TABLE welcome_recipients (
  device_id TEXT NOT NULL REFERENCES devices(id),
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, group_id),
  FOREIGN KEY (group_id, seq) REFERENCES welcomes_v2(group_id, seq) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO welcome_recipients (device_id, group_id, seq) SELECT device_id, group_id, seq FROM welcomes;

DROP TABLE welcomes;
ALTER TABLE welcomes_v2 RENAME TO welcomes;
CREATE INDEX welcomes_expires ON welcomes(expires_at);
CREATE INDEX welcome_recipients_welcome ON welcome_recipients(group_id, seq);
`,
  },
  {
    version: 5,
    name: 'devices that left a group',
    // A device may stop its own delivery of a group at once (it has no cursor
    // any more) while the group's MLS membership still lists it, until a
    // commit drops it. Listed here so a commit that keeps it is not an addition.
    sql: `
CREATE TABLE group_departures (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (group_id, device_id)
) WITHOUT ROWID;
CREATE INDEX group_departures_device ON group_departures(device_id);
`,
  },
  {
    version: 6,
    name: 'per-account quotas',
    // queued_bytes: what the group's log and Welcomes hold, kept with every
    // write, so a trim scales each user's charge in the group by remaining /
    // previous bytes without reading the log. Charges start at zero: the log
    // keeps no sender, so nobody can be charged for what is already queued.
    // Blob uploads are counted per user and day; a bucket is kept as long as
    // it can count (keep_until).
    sql: `
ALTER TABLE mls_groups ADD COLUMN queued_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE mls_groups SET queued_bytes =
  COALESCE((SELECT SUM(length(m.payload)) FROM group_messages m WHERE m.group_id = mls_groups.id), 0) +
  COALESCE((SELECT SUM(length(w.welcome) + COALESCE(length(w.group_info), 0)) FROM welcomes w WHERE w.group_id = mls_groups.id), 0);

CREATE TABLE queue_charges (
  user_id TEXT NOT NULL REFERENCES users(id),
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  bytes INTEGER NOT NULL,
  PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX queue_charges_group ON queue_charges(group_id);

CREATE TABLE blob_usage (
  user_id TEXT NOT NULL REFERENCES users(id),
  day INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  keep_until INTEGER NOT NULL,
  PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
CREATE INDEX blob_usage_keep ON blob_usage(keep_until);
`,
  },
  {
    version: 7,
    name: 'device approval signatures',
    // The approving device's signature over linkApprovalMessage, kept so the
    // directory can hand it to clients, who verify it themselves. Devices
    // approved before this migration have none: clients do not add them anew.
    sql: `
ALTER TABLE devices ADD COLUMN approval BLOB;
`,
  },
  {
    version: 8,
    name: 'privacy at rest',
    // Device names were stored as typed: every one is dropped, and the column
    // becomes nullable (SQLite cannot drop NOT NULL in place: the table is
    // rebuilt, rowids kept, since they order a user's devices); clients upload
    // their names again, encrypted. With secure_delete on, the old table's
    // pages are zeroed when it is dropped.
    // Times that were stored exact are coarsened: session expiries to the day,
    // blob grace periods to the hour (rounded up, so nothing ends early).
    // Groups nobody reads any more (no cursor left) go with everything they
    // hold, and a GroupInfo is kept only while a Welcome of its group waits.
    rebuildsTables: true,
    sql: `
CREATE TABLE devices_v8 (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  name TEXT,
  signature_key BLOB NOT NULL,
  created_day TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'revoked')),
  revoked_at INTEGER,
  approved_by TEXT,
  approval BLOB
);
INSERT INTO devices_v8 (rowid, id, user_id, name, signature_key, created_day, status, revoked_at, approved_by, approval)
  SELECT rowid, id, user_id, NULL, signature_key, created_day, status, revoked_at, approved_by, approval FROM devices;
DROP TABLE devices;
ALTER TABLE devices_v8 RENAME TO devices;
CREATE INDEX devices_user ON devices(user_id);

UPDATE sessions SET expires_at = ((expires_at + 86399) / 86400) * 86400 WHERE expires_at % 86400 <> 0;
UPDATE blobs SET keep_until = ((keep_until + 3599) / 3600) * 3600 WHERE keep_until % 3600 <> 0;

DELETE FROM welcome_recipients WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = welcome_recipients.group_id);
DELETE FROM welcomes WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = welcomes.group_id);
-- Foreign keys are off during this migration, so nothing cascades: blob references go explicitly.
DELETE FROM blob_refs WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = blob_refs.group_id);
DELETE FROM group_messages WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = group_messages.group_id);
DELETE FROM group_departures WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = group_departures.group_id);
DELETE FROM queue_charges WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = queue_charges.group_id);
DELETE FROM mls_groups WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = mls_groups.id);
UPDATE mls_groups SET group_info = NULL WHERE group_info IS NOT NULL AND NOT EXISTS (SELECT 1 FROM welcomes w WHERE w.group_id = mls_groups.id);
`,
  },
  {
    version: 9,
    name: 'per-group retention',
    // Disappearing messages: the members set how long the group's application
    // messages are kept at most (seconds; NULL: the server's default), and the
    // group seq of the settings message that said so (a lower one changes nothing).
    sql: `
ALTER TABLE mls_groups ADD COLUMN retention_seconds INTEGER CHECK (retention_seconds IS NULL OR retention_seconds > 0);
ALTER TABLE mls_groups ADD COLUMN retention_seq INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 10,
    name: 'account deletion',
    // A deleted account keeps, until purge_at, only its user id and its revoked
    // devices' ids and keys (no name, no password hash), so contacts' clients
    // can still remove those devices from their groups; then the rows go.
    // username_holds keeps a hash of a deleted account's name skeleton until
    // the cooling-off period ends (the name itself is not kept).
    sql: `
ALTER TABLE users ADD COLUMN purge_at INTEGER;
CREATE INDEX users_purge ON users(purge_at) WHERE purge_at IS NOT NULL;
CREATE TABLE username_holds (
  name_hash BLOB PRIMARY KEY,
  until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX username_holds_until ON username_holds(until);
`,
  },
  {
    version: 11,
    name: 'encrypted profiles',
    // One profile per user: opaque ciphertext under an opaque version (32
    // bytes the user's devices derive from their profile key, base64url), the
    // digest of its picture blob (kept while referenced here), and the day of
    // the last change (no finer time is kept).
    sql: `
CREATE TABLE profiles (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  version TEXT NOT NULL UNIQUE,
  ciphertext BLOB NOT NULL,
  picture_blob TEXT REFERENCES blobs(digest),
  updated_day TEXT NOT NULL
);
CREATE INDEX profiles_picture ON profiles(picture_blob) WHERE picture_blob IS NOT NULL;
`,
  },
  {
    version: 12,
    name: 'push subscriptions',
    // One Web Push subscription per device: the push service's endpoint URL
    // and the keys pushes are encrypted to. No time, no user id (the device row has it).
    sql: `
CREATE TABLE push_subscriptions (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  endpoint TEXT NOT NULL,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL
) WITHOUT ROWID;
`,
  },
];
