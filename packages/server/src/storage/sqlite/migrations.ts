/**
 * SQLite schema, as numbered migrations. Append new ones; never edit an
 * applied migration. Tested on an empty database and on one holding data.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
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
];
