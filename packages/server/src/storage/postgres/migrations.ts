/**
 * PostgreSQL schema, as numbered migrations. Append new ones; never edit an
 * applied migration. Tables and columns mirror the SQLite schema so both
 * adapters keep the same semantics.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
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
-- created_seq stands in for SQLite's implicit rowid: devices are listed in the order they were added.
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  created_seq BIGINT GENERATED ALWAYS AS IDENTITY,
  user_id TEXT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  signature_key BYTEA NOT NULL,
  created_day TEXT NOT NULL,
  revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX devices_user ON devices(user_id, created_seq);
CREATE TABLE sessions (
  token_hash BYTEA PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_device ON sessions(device_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE key_packages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(id),
  ciphersuite INTEGER NOT NULL,
  expires_at BIGINT NOT NULL,
  last_resort BOOLEAN NOT NULL,
  data BYTEA NOT NULL
);
CREATE INDEX key_packages_device ON key_packages(device_id, last_resort, id);
CREATE INDEX key_packages_expires ON key_packages(expires_at);
CREATE TABLE mls_groups (
  id TEXT PRIMARY KEY,
  epoch BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  group_info BYTEA
);
CREATE TABLE group_devices (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (group_id, device_id)
);
CREATE INDEX group_devices_device ON group_devices(device_id);
CREATE TABLE messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('application', 'proposal', 'commit', 'welcome')),
  epoch BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  extra BYTEA,
  expires_at BIGINT NOT NULL
);
CREATE INDEX messages_group_seq ON messages(group_id, seq);
CREATE INDEX messages_expires ON messages(expires_at);
CREATE TABLE mailbox (
  device_id TEXT NOT NULL,
  message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (device_id, message_id)
);
CREATE INDEX mailbox_message ON mailbox(message_id);
CREATE INDEX mailbox_device_group ON mailbox(device_id, group_id, seq);
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  keep_until BIGINT NOT NULL
);
CREATE TABLE blob_refs (
  message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  PRIMARY KEY (message_id, digest)
);
CREATE INDEX blob_refs_digest ON blob_refs(digest);
`,
  },
];
