/**
 * PostgreSQL schema, as numbered migrations. Append new ones; never edit an
 * applied migration. Tables and columns mirror the SQLite schema so both
 * adapters keep the same semantics.
 */
import { AUTOVACUUM_THRESHOLD, PRIVACY_SQL } from './migration-privacy.js';
import { BATCH_CHARGES_SQL, QUOTAS_SQL } from './migration-quotas.js';

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
  {
    version: 2,
    name: 'group log with per-device cursors',
    // Mirrors SQLite migration 2. One row per message instead of one per
    // recipient: a device's mailbox is the group log after its cursor. Existing
    // mailboxes become cursors just below their oldest pending message; pending
    // welcomes move to their own table (the newest one when a device has several
    // for one group, as INSERT OR REPLACE leaves in SQLite).
    sql: `
CREATE TABLE group_messages (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('application', 'proposal', 'commit')),
  epoch BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, seq)
);
CREATE INDEX group_messages_expires ON group_messages(expires_at);
INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at)
  SELECT m.group_id, m.seq, m.kind, m.epoch, m.payload, m.expires_at FROM messages m
  WHERE m.kind <> 'welcome' AND EXISTS (SELECT 1 FROM mailbox b WHERE b.message_id = m.id);

CREATE TABLE welcomes (
  device_id TEXT NOT NULL REFERENCES devices(id),
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq BIGINT NOT NULL,
  epoch BIGINT NOT NULL,
  welcome BYTEA NOT NULL,
  group_info BYTEA,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, group_id)
);
CREATE INDEX welcomes_expires ON welcomes(expires_at);
INSERT INTO welcomes (device_id, group_id, seq, epoch, welcome, group_info, expires_at)
  SELECT DISTINCT ON (b.device_id, m.group_id) b.device_id, m.group_id, m.seq, m.epoch, m.payload, m.extra, m.expires_at
  FROM mailbox b JOIN messages m ON m.id = b.message_id WHERE m.kind = 'welcome'
  ORDER BY b.device_id, m.group_id, m.seq DESC, m.id DESC;

CREATE TABLE group_cursors (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  acked_seq BIGINT NOT NULL,
  until_seq BIGINT,
  leave_expires_at BIGINT,
  PRIMARY KEY (group_id, device_id)
);
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
  seq BIGINT NOT NULL,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  PRIMARY KEY (group_id, seq, digest),
  FOREIGN KEY (group_id, seq) REFERENCES group_messages(group_id, seq) ON DELETE CASCADE
);
INSERT INTO blob_refs_v2 (group_id, seq, digest)
  SELECT m.group_id, m.seq, r.digest FROM blob_refs r JOIN messages m ON m.id = r.message_id
  WHERE EXISTS (SELECT 1 FROM group_messages g WHERE g.group_id = m.group_id AND g.seq = m.seq);

DROP TABLE blob_refs;
DROP TABLE mailbox;
DROP TABLE messages;
DROP TABLE group_devices;
ALTER TABLE group_cursors RENAME TO group_devices;
ALTER INDEX group_cursors_pkey RENAME TO group_devices_pkey;
ALTER TABLE blob_refs_v2 RENAME TO blob_refs;
ALTER INDEX blob_refs_v2_pkey RENAME TO blob_refs_pkey;
CREATE INDEX group_devices_device ON group_devices(device_id);
CREATE INDEX blob_refs_digest ON blob_refs(digest);
`,
  },
  {
    version: 3,
    name: 'one round trip for append and ack',
    // The message path as functions: each runs as one statement (its own
    // transaction) instead of BEGIN, five queries and COMMIT from the server.
    // Statements inside a PL/pgSQL function see rows committed while they
    // waited for the group lock, so the membership check is never stale.
    // Errors carry SQLSTATEs of our own (class PA) that the adapter maps back.
    sql: `
CREATE FUNCTION parley_append_message(p_group text, p_sender text, p_kind text, p_epoch bigint, p_payload bytea,
                                      p_blobs text[], p_expires bigint, p_keep bigint)
RETURNS TABLE (r_seq bigint, r_epoch bigint, r_members text[])
LANGUAGE plpgsql AS $fn$
DECLARE
  g_epoch bigint;
  g_last bigint;
  m text[];
  missing text;
  s bigint;
BEGIN
  SELECT g.epoch, g.last_seq INTO g_epoch, g_last FROM mls_groups g WHERE g.id = p_group FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'group not found' USING ERRCODE = 'PA001';
  END IF;
  SELECT COALESCE(array_agg(d.device_id ORDER BY d.device_id COLLATE "C"), '{}') INTO m
    FROM group_devices d WHERE d.group_id = p_group AND d.until_seq IS NULL;
  IF NOT (p_sender = ANY(m)) THEN
    RAISE EXCEPTION 'not a member of this group' USING ERRCODE = 'PA002';
  END IF;
  IF (p_kind = 'proposal' AND p_epoch <> g_epoch) OR p_epoch > g_epoch THEN
    RAISE EXCEPTION 'group is at epoch %', g_epoch USING ERRCODE = 'PA003', DETAIL = g_epoch::text;
  END IF;
  IF cardinality(p_blobs) > 0 THEN
    -- Locked so a concurrent blob deletion either finishes first (and we report it) or sees our reference.
    PERFORM 1 FROM blobs b WHERE b.digest = ANY(p_blobs) ORDER BY b.digest COLLATE "C" FOR NO KEY UPDATE;
    SELECT x INTO missing FROM unnest(p_blobs) AS x WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = x) LIMIT 1;
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'referenced blob not found' USING ERRCODE = 'PA004', DETAIL = missing;
    END IF;
  END IF;
  s := g_last + 1;
  UPDATE mls_groups SET last_seq = s WHERE id = p_group;
  INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES (p_group, s, p_kind, p_epoch, p_payload, p_expires);
  -- The sender has seen its own message when nothing before it is outstanding.
  UPDATE group_devices SET acked_seq = s WHERE group_id = p_group AND device_id = p_sender AND acked_seq = s - 1;
  IF cardinality(p_blobs) > 0 THEN
    INSERT INTO blob_refs (group_id, seq, digest) SELECT DISTINCT p_group, s, x FROM unnest(p_blobs) AS x ON CONFLICT DO NOTHING;
    UPDATE blobs SET keep_until = GREATEST(keep_until, p_keep) WHERE digest = ANY(p_blobs);
  END IF;
  IF cardinality(m) = 1 THEN
    -- Nobody else to deliver to: trim right away.
    DELETE FROM group_messages gm WHERE gm.group_id = p_group
      AND gm.seq <= COALESCE((SELECT MIN(d.acked_seq) FROM group_devices d WHERE d.group_id = p_group), 9223372036854775807);
  END IF;
  RETURN QUERY SELECT s, g_epoch, m;
END
$fn$;

CREATE FUNCTION parley_ack(p_group text, p_device text, p_seq bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  -- Cursor first, then welcome: the lock order every writer follows.
  UPDATE group_devices SET acked_seq = p_seq WHERE group_id = p_group AND device_id = p_device AND acked_seq < p_seq;
  -- A removed device that has seen its removal needs no cursor any more.
  DELETE FROM group_devices WHERE group_id = p_group AND device_id = p_device AND until_seq IS NOT NULL AND acked_seq >= until_seq;
  DELETE FROM welcomes WHERE device_id = p_device AND group_id = p_group AND seq <= p_seq;
END
$fn$;
`,
  },
  {
    version: 4,
    name: 'batched append and ack',
    // Many messages (or acks) per round trip: the server collects one event-loop
    // turn's worth and sends them together, like the SQLite write queue. Items
    // are taken in group order so concurrent batches lock groups in the same
    // order; each runs in its own subtransaction, so one failing item is undone
    // alone and reported in its row.
    sql: `
CREATE FUNCTION parley_append_batch(p_idx int[], p_group text[], p_sender text[], p_kind text[], p_epoch bigint[],
                                    p_payload bytea[], p_expires bigint[])
RETURNS TABLE (r_idx int, r_seq bigint, r_epoch bigint, r_members text[], r_error text, r_detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  res record;
BEGIN
  FOR i IN SELECT k FROM generate_subscripts(p_idx, 1) AS k ORDER BY p_group[k] COLLATE "C", k LOOP
    BEGIN
      SELECT * INTO res FROM parley_append_message(p_group[i], p_sender[i], p_kind[i], p_epoch[i], p_payload[i], '{}'::text[], p_expires[i], 0);
      r_idx := p_idx[i]; r_seq := res.r_seq; r_epoch := res.r_epoch; r_members := res.r_members; r_error := NULL; r_detail := NULL;
    EXCEPTION WHEN SQLSTATE 'PA001' OR SQLSTATE 'PA002' OR SQLSTATE 'PA003' OR SQLSTATE 'PA004' THEN
      GET STACKED DIAGNOSTICS r_error = RETURNED_SQLSTATE, r_detail = PG_EXCEPTION_DETAIL;
      r_idx := p_idx[i]; r_seq := NULL; r_epoch := NULL; r_members := NULL;
    END;
    RETURN NEXT;
  END LOOP;
END
$fn$;

CREATE FUNCTION parley_ack_batch(p_group text[], p_device text[], p_seq bigint[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
BEGIN
  FOR i IN SELECT k FROM generate_subscripts(p_group, 1) AS k ORDER BY p_group[k] COLLATE "C", p_device[k] COLLATE "C" LOOP
    PERFORM parley_ack(p_group[i], p_device[i], p_seq[i]);
  END LOOP;
END
$fn$;
`,
  },
  {
    version: 5,
    name: 'device status, links and sign-in challenges',
    // Mirrors SQLite migration 3. When a device was revoked before this
    // migration is unknown: it gets the migration time rounded up to the hour,
    // later than the truth, so old commits adding it still verify.
    sql: `
ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'revoked'));
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
ALTER TABLE devices ADD COLUMN approved_by TEXT;
UPDATE devices SET status = 'revoked', revoked_at = (ceil(extract(epoch FROM now()) / 3600) * 3600)::bigint WHERE revoked;
ALTER TABLE devices DROP COLUMN revoked;

CREATE TABLE device_links (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  code_hash BYTEA NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX device_links_code ON device_links(user_id, code_hash);
CREATE INDEX device_links_expires ON device_links(expires_at);

-- No reference to devices: challenges are issued for any well-formed request.
CREATE TABLE session_challenges (
  challenge_hash BYTEA PRIMARY KEY,
  device_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX session_challenges_expires ON session_challenges(expires_at);
`,
  },
  {
    version: 6,
    name: 'one welcome per commit',
    // Mirrors SQLite migration 4: a Welcome is stored once per commit and its
    // recipients point at it. Existing copies of one commit's Welcome are identical.
    sql: `
CREATE TABLE welcomes_v2 (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  seq BIGINT NOT NULL,
  epoch BIGINT NOT NULL,
  welcome BYTEA NOT NULL,
  group_info BYTEA,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, seq)
);
INSERT INTO welcomes_v2 (group_id, seq, epoch, welcome, group_info, expires_at)
  SELECT DISTINCT ON (group_id, seq) group_id, seq, epoch, welcome, group_info, expires_at FROM welcomes
  ORDER BY group_id, seq, device_id;

CREATE TABLE welcome_recipients (
  device_id TEXT NOT NULL REFERENCES devices(id),
  group_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (device_id, group_id),
  FOREIGN KEY (group_id, seq) REFERENCES welcomes_v2(group_id, seq) ON DELETE CASCADE
);
INSERT INTO welcome_recipients (device_id, group_id, seq) SELECT device_id, group_id, seq FROM welcomes;

DROP TABLE welcomes;
ALTER TABLE welcomes_v2 RENAME TO welcomes;
ALTER INDEX welcomes_v2_pkey RENAME TO welcomes_pkey;
CREATE INDEX welcomes_expires ON welcomes(expires_at);
CREATE INDEX welcome_recipients_welcome ON welcome_recipients(group_id, seq);

CREATE OR REPLACE FUNCTION parley_ack(p_group text, p_device text, p_seq bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  -- Cursor first, then the Welcome reference: the lock order every writer follows.
  UPDATE group_devices SET acked_seq = p_seq WHERE group_id = p_group AND device_id = p_device AND acked_seq < p_seq;
  -- A removed device that has seen its removal needs no cursor any more.
  DELETE FROM group_devices WHERE group_id = p_group AND device_id = p_device AND until_seq IS NOT NULL AND acked_seq >= until_seq;
  -- The Welcome itself goes with the next trim of the group once nobody else waits for it.
  DELETE FROM welcome_recipients WHERE device_id = p_device AND group_id = p_group AND seq <= p_seq;
END
$fn$;
`,
  },
  {
    version: 7,
    name: 'devices that left a group',
    // Mirrors SQLite migration 5.
    sql: `
CREATE TABLE group_departures (
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (group_id, device_id)
);
CREATE INDEX group_departures_device ON group_departures(device_id);
`,
  },
  {
    version: 8,
    name: 'per-account quotas',
    // Mirrors SQLite migration 6, and moves every deletion from a group's log
    // or Welcomes behind the group's row lock (parley_trim_group,
    // parley_expire_group): whoever changes queued_bytes or the charges of a
    // group holds that lock first, so totals and charges stay consistent across
    // processes. The append functions charge the sender's account in the same
    // round trip (their signatures change, so they are replaced). Group rows
    // are locked FOR NO KEY UPDATE from here on: writers still exclude each
    // other, while foreign-key checks (FOR KEY SHARE) of cursor updates pass.
    sql: QUOTAS_SQL,
  },
  {
    version: 9,
    name: 'charges written once per append batch',
    sql: BATCH_CHARGES_SQL,
  },
  {
    version: 10,
    name: 'device approval signatures',
    // Mirrors SQLite migration 7.
    sql: `
ALTER TABLE devices ADD COLUMN approval BYTEA;
`,
  },
  {
    version: 11,
    name: 'privacy at rest',
    // Mirrors SQLite migration 8: see migration-privacy.ts.
    sql: PRIVACY_SQL,
  },
  {
    version: 12,
    name: 'per-group retention',
    // Mirrors SQLite migration 9.
    sql: `
ALTER TABLE mls_groups ADD COLUMN retention_seconds BIGINT CHECK (retention_seconds IS NULL OR retention_seconds > 0);
ALTER TABLE mls_groups ADD COLUMN retention_seq BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 13,
    name: 'account deletion',
    // Mirrors SQLite migration 10.
    sql: `
ALTER TABLE users ADD COLUMN purge_at BIGINT;
CREATE INDEX users_purge ON users(purge_at) WHERE purge_at IS NOT NULL;
CREATE TABLE username_holds (
  name_hash BYTEA PRIMARY KEY,
  until BIGINT NOT NULL
);
CREATE INDEX username_holds_until ON username_holds(until);
ALTER TABLE username_holds SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD});
`,
  },
  {
    version: 14,
    name: 'encrypted profiles',
    // Mirrors SQLite migration 11. Ciphertexts over ~2 KB live in the TOAST
    // table: both are vacuumed promptly, so a replaced profile leaves the files soon.
    sql: `
CREATE TABLE profiles (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  version TEXT NOT NULL UNIQUE,
  ciphertext BYTEA NOT NULL,
  picture_blob TEXT REFERENCES blobs(digest),
  updated_day TEXT NOT NULL
);
CREATE INDEX profiles_picture ON profiles(picture_blob) WHERE picture_blob IS NOT NULL;
ALTER TABLE profiles SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD}, toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD});
`,
  },
  {
    version: 15,
    name: 'push subscriptions',
    // Mirrors SQLite migration 12; vacuumed promptly like every table, so a replaced subscription leaves the files soon.
    sql: `
CREATE TABLE push_subscriptions (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  endpoint TEXT NOT NULL,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL
);
ALTER TABLE push_subscriptions SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD});
`,
  },
];
