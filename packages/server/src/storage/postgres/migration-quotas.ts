/**
 * PostgreSQL migration 8 (per-account quotas; see migrations.ts): the byte
 * count and charge tables, and the functions every write to a group's log and
 * Welcomes goes through. Never edit once applied; append a new migration.
 */
export const QUOTAS_SQL = `
ALTER TABLE mls_groups ADD COLUMN queued_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE mls_groups g SET queued_bytes =
  COALESCE((SELECT SUM(octet_length(m.payload)) FROM group_messages m WHERE m.group_id = g.id), 0) +
  COALESCE((SELECT SUM(octet_length(w.welcome) + COALESCE(octet_length(w.group_info), 0)) FROM welcomes w WHERE w.group_id = g.id), 0);

CREATE TABLE queue_charges (
  user_id TEXT NOT NULL REFERENCES users(id),
  group_id TEXT NOT NULL REFERENCES mls_groups(id),
  bytes BIGINT NOT NULL,
  PRIMARY KEY (user_id, group_id)
);
CREATE INDEX queue_charges_group ON queue_charges(group_id);

CREATE TABLE blob_usage (
  user_id TEXT NOT NULL REFERENCES users(id),
  day BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  keep_until BIGINT NOT NULL,
  PRIMARY KEY (user_id, day)
);
CREATE INDEX blob_usage_keep ON blob_usage(keep_until);

-- The group lost p_removed stored bytes: scale its charges by remaining / previous
-- (rounded down, in float8 like the SQLite adapter), clear them when it holds nothing.
-- The caller holds the group's row lock.
CREATE FUNCTION parley_release_bytes(p_group text, p_removed bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  remaining bigint;
BEGIN
  IF p_removed <= 0 THEN
    RETURN;
  END IF;
  UPDATE mls_groups SET queued_bytes = GREATEST(queued_bytes - p_removed, 0) WHERE id = p_group RETURNING queued_bytes INTO remaining;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF remaining = 0 THEN
    DELETE FROM queue_charges WHERE group_id = p_group;
  ELSE
    UPDATE queue_charges SET bytes = floor(bytes * (remaining::float8 / (remaining + p_removed)::float8))::bigint WHERE group_id = p_group;
  END IF;
END
$fn$;

-- Deletes what every cursor has passed (a group nobody reads any more keeps
-- nothing) and Welcomes nobody waits for. Returns the messages deleted.
CREATE FUNCTION parley_trim_group(p_group text) RETURNS bigint
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
  RETURN n;
END
$fn$;

-- Several groups, locked in id order (the order appends lock them in).
CREATE FUNCTION parley_trim_groups(p_groups text[]) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  g text;
  total bigint := 0;
BEGIN
  FOR g IN SELECT DISTINCT x COLLATE "C" AS x FROM unnest(p_groups) AS x ORDER BY 1 LOOP
    total := total + parley_trim_group(g);
  END LOOP;
  RETURN total;
END
$fn$;

-- Retention for one group: its expired messages and Welcomes.
CREATE FUNCTION parley_expire_group(p_group text, p_now bigint, OUT r_messages bigint, OUT r_welcomes bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  message_bytes bigint;
  welcome_bytes bigint;
BEGIN
  PERFORM 1 FROM mls_groups WHERE id = p_group FOR NO KEY UPDATE;
  WITH gone AS (DELETE FROM group_messages m WHERE m.group_id = p_group AND m.expires_at <= p_now RETURNING octet_length(m.payload) AS b)
  SELECT COUNT(*), COALESCE(SUM(b), 0) INTO r_messages, message_bytes FROM gone;
  WITH gone AS (
    DELETE FROM welcomes w WHERE w.group_id = p_group AND w.expires_at <= p_now
    RETURNING octet_length(w.welcome) + COALESCE(octet_length(w.group_info), 0) AS b)
  SELECT COUNT(*), COALESCE(SUM(b), 0) INTO r_welcomes, welcome_bytes FROM gone;
  PERFORM parley_release_bytes(p_group, message_bytes + welcome_bytes);
END
$fn$;

CREATE FUNCTION parley_expire_groups(p_groups text[], p_now bigint, OUT r_messages bigint, OUT r_welcomes bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  g text;
  res record;
BEGIN
  r_messages := 0;
  r_welcomes := 0;
  FOR g IN SELECT DISTINCT x COLLATE "C" AS x FROM unnest(p_groups) AS x ORDER BY 1 LOOP
    SELECT * INTO res FROM parley_expire_group(g, p_now);
    r_messages := r_messages + res.r_messages;
    r_welcomes := r_welcomes + res.r_welcomes;
  END LOOP;
END
$fn$;

DROP FUNCTION parley_append_batch(int[], text[], text[], text[], bigint[], bytea[], bigint[]);
DROP FUNCTION parley_append_message(text, text, text, bigint, bytea, text[], bigint, bigint);

-- As in migration 3, plus: the payload's bytes are counted in the group and,
-- when p_user is given, charged to that account, refused (PA005) past p_max.
CREATE FUNCTION parley_append_message(p_group text, p_sender text, p_kind text, p_epoch bigint, p_payload bytea,
                                      p_blobs text[], p_expires bigint, p_keep bigint, p_user text, p_max bigint)
RETURNS TABLE (r_seq bigint, r_epoch bigint, r_members text[])
LANGUAGE plpgsql AS $fn$
DECLARE
  g_epoch bigint;
  g_last bigint;
  m text[];
  missing text;
  s bigint;
  size bigint := octet_length(p_payload);
  held bigint;
BEGIN
  SELECT g.epoch, g.last_seq INTO g_epoch, g_last FROM mls_groups g WHERE g.id = p_group FOR NO KEY UPDATE;
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
  IF p_user IS NOT NULL THEN
    -- One statement: the charge in this group as written, plus the user's other groups
    -- (the statement's snapshot does not see its own write, hence the filter).
    WITH charged AS (
      INSERT INTO queue_charges (user_id, group_id, bytes) VALUES (p_user, p_group, size)
        ON CONFLICT (user_id, group_id) DO UPDATE SET bytes = queue_charges.bytes + EXCLUDED.bytes
        RETURNING bytes)
    SELECT (SELECT bytes FROM charged) + COALESCE(SUM(q.bytes) FILTER (WHERE q.group_id <> p_group), 0) INTO held
      FROM queue_charges q WHERE q.user_id = p_user;
    IF held > p_max THEN
      RAISE EXCEPTION 'queue quota exceeded' USING ERRCODE = 'PA005', DETAIL = 'queued_bytes';
    END IF;
  END IF;
  s := g_last + 1;
  UPDATE mls_groups SET last_seq = s, queued_bytes = queued_bytes + size WHERE id = p_group;
  INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES (p_group, s, p_kind, p_epoch, p_payload, p_expires);
  -- The sender has seen its own message when nothing before it is outstanding.
  UPDATE group_devices SET acked_seq = s WHERE group_id = p_group AND device_id = p_sender AND acked_seq = s - 1;
  IF cardinality(p_blobs) > 0 THEN
    INSERT INTO blob_refs (group_id, seq, digest) SELECT DISTINCT p_group, s, x FROM unnest(p_blobs) AS x ON CONFLICT DO NOTHING;
    UPDATE blobs SET keep_until = GREATEST(keep_until, p_keep) WHERE digest = ANY(p_blobs);
  END IF;
  IF cardinality(m) = 1 THEN
    -- Nobody else to deliver to: trim right away.
    PERFORM parley_trim_group(p_group);
  END IF;
  RETURN QUERY SELECT s, g_epoch, m;
END
$fn$;

CREATE FUNCTION parley_append_batch(p_idx int[], p_group text[], p_sender text[], p_kind text[], p_epoch bigint[],
                                    p_payload bytea[], p_expires bigint[], p_user text[], p_max bigint[])
RETURNS TABLE (r_idx int, r_seq bigint, r_epoch bigint, r_members text[], r_error text, r_detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  res record;
BEGIN
  FOR i IN SELECT k FROM generate_subscripts(p_idx, 1) AS k ORDER BY p_group[k] COLLATE "C", k LOOP
    BEGIN
      SELECT * INTO res FROM parley_append_message(p_group[i], p_sender[i], p_kind[i], p_epoch[i], p_payload[i], '{}'::text[], p_expires[i], 0, p_user[i], p_max[i]);
      r_idx := p_idx[i]; r_seq := res.r_seq; r_epoch := res.r_epoch; r_members := res.r_members; r_error := NULL; r_detail := NULL;
    EXCEPTION WHEN SQLSTATE 'PA001' OR SQLSTATE 'PA002' OR SQLSTATE 'PA003' OR SQLSTATE 'PA004' OR SQLSTATE 'PA005' THEN
      GET STACKED DIAGNOSTICS r_error = RETURNED_SQLSTATE, r_detail = PG_EXCEPTION_DETAIL;
      r_idx := p_idx[i]; r_seq := NULL; r_epoch := NULL; r_members := NULL;
    END;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`;

/**
 * PostgreSQL migration 9: the batched append charges accounts once per batch.
 * Each message is checked against the account's total as read when the batch
 * starts plus what the batch already charged it, and the charges are written
 * together at the end, one row per (account, group), while the batch still
 * holds those groups' locks: two statements per batch instead of a write per
 * message. A message the append trimmed at once (its sender alone in the
 * group, having read everything) holds no bytes: charges of a group left empty
 * are dropped again.
 */
export const BATCH_CHARGES_SQL = `
CREATE OR REPLACE FUNCTION parley_append_batch(p_idx int[], p_group text[], p_sender text[], p_kind text[], p_epoch bigint[],
                                               p_payload bytea[], p_expires bigint[], p_user text[], p_max bigint[])
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
`;
