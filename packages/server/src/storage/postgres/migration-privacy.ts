/**
 * PostgreSQL migration 11 (privacy at rest; mirrors SQLite migration 8, see
 * migrations.ts). Never edit once applied; append a new migration.
 *
 * - Device names were stored as typed: every one is dropped (NULL) and the
 *   column becomes nullable; clients upload their names again, encrypted.
 * - Times that were stored exact are coarsened: session expiries to the day,
 *   blob grace periods to the hour (rounded up, so nothing ends early).
 * - A riding acknowledgement is applied in the same statement as the message
 *   it rides on (`parley_append_batch` takes `p_ack`), so a sender that had read
 *   everything is moved past its own message at once and a message every
 *   recipient acknowledged is deleted without the sender sending again.
 * - `parley_trim_group` deletes a group nobody reads any more (no cursor: every
 *   member left or was revoked, every removed device read its removal) with
 *   everything it holds, and drops a group's GroupInfo when no Welcome of the
 *   group waits for a device (only a device joining from a Welcome asks for it).
 *   Existing such groups and GroupInfos go now.
 * - Autovacuum: every table is vacuumed once a fixed number of rows died,
 *   whatever its size (scale factor 0), so deleted ciphertext, names and
 *   GroupInfos leave the table files soon instead of after a fifth of the
 *   table has turned over (the default). See docs/operations.md.
 */

/** Tables whose deleted and updated rows should be reclaimed promptly (all of ours). */
const TABLES = [
  'users',
  'devices',
  'sessions',
  'session_challenges',
  'device_links',
  'key_packages',
  'mls_groups',
  'group_devices',
  'group_departures',
  'group_messages',
  'welcomes',
  'welcome_recipients',
  'queue_charges',
  'blobs',
  'blob_refs',
  'blob_usage',
];

/** Dead rows (in the table and in its TOAST table, where payloads over ~2 KB live) that trigger a vacuum. */
export const AUTOVACUUM_THRESHOLD = 50;

const AUTOVACUUM_SQL = TABLES.map(
  (t) =>
    `ALTER TABLE ${t} SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD}, ` +
    `toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = ${AUTOVACUUM_THRESHOLD});`,
).join('\n');

export const PRIVACY_SQL = `
ALTER TABLE devices ALTER COLUMN name DROP NOT NULL;
UPDATE devices SET name = NULL WHERE name IS NOT NULL;

UPDATE sessions SET expires_at = ((expires_at + 86399) / 86400) * 86400 WHERE expires_at % 86400 <> 0;
UPDATE blobs SET keep_until = ((keep_until + 3599) / 3600) * 3600 WHERE keep_until % 3600 <> 0;

-- Groups nobody reads any more, with everything they hold (blob references go with their messages).
DELETE FROM welcome_recipients r WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = r.group_id);
DELETE FROM welcomes w WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = w.group_id);
DELETE FROM group_messages m WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = m.group_id);
DELETE FROM group_departures x WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = x.group_id);
DELETE FROM queue_charges q WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = q.group_id);
DELETE FROM mls_groups g WHERE NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = g.id);
UPDATE mls_groups g SET group_info = NULL WHERE group_info IS NOT NULL AND NOT EXISTS (SELECT 1 FROM welcomes w WHERE w.group_id = g.id);

-- As in migration 8, plus what becomes of a group once its log is cut: a group
-- without any cursor is deleted whole (the caller holds no lock on it that a
-- deletion could not take: cursors and charges are written under the group's
-- lock, which this function holds); otherwise its GroupInfo goes when no
-- Welcome waits. Returns the messages deleted.
CREATE OR REPLACE FUNCTION parley_trim_group(p_group text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint;
  message_bytes bigint;
  welcome_bytes bigint;
BEGIN
  PERFORM 1 FROM mls_groups WHERE id = p_group FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  WITH gone AS (
    DELETE FROM group_messages m WHERE m.group_id = p_group
      AND m.seq <= COALESCE((SELECT MIN(d.acked_seq) FROM group_devices d WHERE d.group_id = p_group), 9223372036854775807)
    RETURNING octet_length(m.payload) AS b)
  SELECT COUNT(*), COALESCE(SUM(b), 0) INTO n, message_bytes FROM gone;
  WITH gone AS (
    DELETE FROM welcomes w WHERE w.group_id = p_group
      AND NOT EXISTS (SELECT 1 FROM welcome_recipients r WHERE r.group_id = w.group_id AND r.seq = w.seq)
    RETURNING octet_length(w.welcome) + COALESCE(octet_length(w.group_info), 0) AS b)
  SELECT COALESCE(SUM(b), 0) INTO welcome_bytes FROM gone;
  PERFORM parley_release_bytes(p_group, message_bytes + welcome_bytes);
  IF NOT EXISTS (SELECT 1 FROM group_devices d WHERE d.group_id = p_group) THEN
    DELETE FROM welcome_recipients WHERE group_id = p_group;
    DELETE FROM welcomes WHERE group_id = p_group;
    DELETE FROM group_messages WHERE group_id = p_group;
    DELETE FROM group_departures WHERE group_id = p_group;
    DELETE FROM queue_charges WHERE group_id = p_group;
    DELETE FROM mls_groups WHERE id = p_group;
  ELSIF NOT EXISTS (SELECT 1 FROM welcomes w WHERE w.group_id = p_group) THEN
    UPDATE mls_groups SET group_info = NULL WHERE id = p_group AND group_info IS NOT NULL;
  END IF;
  RETURN n;
END
$fn$;

DROP FUNCTION parley_append_batch(int[], text[], text[], text[], bigint[], bytea[], bigint[], text[], bigint[]);

-- As in migration 9, plus p_ack: each message's riding acknowledgement (NULL
-- when none), applied under the group's lock before the message and outside
-- its subtransaction, so it counts even when the message is refused.
CREATE FUNCTION parley_append_batch(p_idx int[], p_group text[], p_sender text[], p_kind text[], p_epoch bigint[],
                                    p_payload bytea[], p_expires bigint[], p_user text[], p_max bigint[], p_ack bigint[])
RETURNS TABLE (r_idx int, r_seq bigint, r_epoch bigint, r_members text[], r_error text, r_detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  res record;
  users text[];
  held bigint[];
  u int;
  size bigint;
  c_user text[] := '{}';
  c_group text[] := '{}';
  c_bytes bigint[] := '{}';
BEGIN
  SELECT array_agg(x ORDER BY x) INTO users FROM (SELECT DISTINCT x FROM unnest(p_user) AS x WHERE x IS NOT NULL) t;
  IF users IS NOT NULL THEN
    SELECT array_agg(COALESCE((SELECT SUM(q.bytes) FROM queue_charges q WHERE q.user_id = x), 0) ORDER BY x) INTO held FROM unnest(users) AS x;
  END IF;
  FOR i IN SELECT k FROM generate_subscripts(p_idx, 1) AS k ORDER BY p_group[k] COLLATE "C", k LOOP
    r_idx := p_idx[i]; r_seq := NULL; r_epoch := NULL; r_members := NULL; r_error := NULL; r_detail := NULL;
    IF p_ack[i] IS NOT NULL THEN
      -- Group, then cursor: the order appends and commits take them in.
      PERFORM 1 FROM mls_groups WHERE id = p_group[i] FOR NO KEY UPDATE;
      PERFORM parley_ack(p_group[i], p_sender[i], p_ack[i]);
    END IF;
    u := NULL;
    IF p_user[i] IS NOT NULL THEN
      u := array_position(users, p_user[i]);
      size := octet_length(p_payload[i]);
      IF held[u] + size > p_max[i] THEN
        r_error := 'PA005'; r_detail := 'queued_bytes';
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;
    BEGIN
      SELECT * INTO res FROM parley_append_message(p_group[i], p_sender[i], p_kind[i], p_epoch[i], p_payload[i], '{}'::text[], p_expires[i], 0, NULL, NULL);
      r_seq := res.r_seq; r_epoch := res.r_epoch; r_members := res.r_members;
      IF u IS NOT NULL THEN
        held[u] := held[u] + size;
        c_user := c_user || p_user[i]; c_group := c_group || p_group[i]; c_bytes := c_bytes || size;
      END IF;
    EXCEPTION WHEN SQLSTATE 'PA001' OR SQLSTATE 'PA002' OR SQLSTATE 'PA003' OR SQLSTATE 'PA004' THEN
      GET STACKED DIAGNOSTICS r_error = RETURNED_SQLSTATE, r_detail = PG_EXCEPTION_DETAIL;
    END;
    RETURN NEXT;
  END LOOP;
  IF cardinality(c_user) > 0 THEN
    INSERT INTO queue_charges (user_id, group_id, bytes)
      SELECT t.u, t.g, SUM(t.b) FROM unnest(c_user, c_group, c_bytes) AS t(u, g, b)
      GROUP BY t.g, t.u ORDER BY t.g COLLATE "C", t.u COLLATE "C"
      ON CONFLICT (user_id, group_id) DO UPDATE SET bytes = queue_charges.bytes + EXCLUDED.bytes;
    DELETE FROM queue_charges q USING mls_groups g
      WHERE g.id = q.group_id AND g.id = ANY(c_group) AND g.queued_bytes = 0;
  END IF;
END
$fn$;

${AUTOVACUUM_SQL}
`;
