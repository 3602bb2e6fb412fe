-- The ledger's receipt time under the content hash, and every published chain head kept (R-AUD-2, R-AUD-3).
--
-- `hash_version` names the field list a row's content_sha256 was computed over: 1 for rows written before this
-- migration (the event's fields only), 2 for rows that also cover `recorded_at`. Existing rows keep 1 and verify as
-- they were hashed; new rows are written with 2. Flipping a row's version does not weaken anything: its stored hash
-- is bound by chain_hmac, and no other field list hashes to it.
ALTER TABLE audit_events ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));

-- Every chain head the audit service has published to Redis, signed as published, appended after the publish
-- succeeded: the highest one is a floor the Redis head may never fall below. A head key deleted, or an older
-- signed head restored, is then a break rather than a warning. The audit role may only add rows.
CREATE TABLE audit_chain_heads (
  zone_id uuid NOT NULL,
  seq bigint NOT NULL CHECK (seq > 0),
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  published_at text NOT NULL,
  sig text NOT NULL,
  PRIMARY KEY (zone_id, seq)
);
ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY zone_isolation ON audit_chain_heads
  USING (zone_id = caracal.current_zone_id()) WITH CHECK (zone_id = caracal.current_zone_id());
GRANT SELECT, INSERT ON audit_chain_heads TO {{role.audit}};
GRANT SELECT ON audit_chain_heads TO {{role.api}};

-- The start of a zone append, as audit_append_prepare (0009) plus what hashing `recorded_at` needs: takes the
-- zone's append lock, then returns the chain tip with its receipt time, the highest recorded head ('mark'), and
-- for each of `ids` already in the ledger its content hash, receipt time and hash version. Runs as the caller.
CREATE FUNCTION caracal.audit_append_begin(zone uuid, ids uuid[])
  RETURNS TABLE (kind text, event_id uuid, chain_seq bigint, content_sha256 text, recorded_at text, hash_version smallint)
  LANGUAGE plpgsql SET search_path = caracal, pg_temp
  AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1818584167, hashtext(zone::text));
  RETURN QUERY
    SELECT 'tip', NULL::uuid, t.seq, t.sha, t.at, NULL::smallint FROM (
      (SELECT a.chain_seq AS seq, a.content_sha256 AS sha, to_char(a.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
         FROM audit_events a WHERE a.zone_id = zone ORDER BY a.chain_seq DESC, a.recorded_at DESC LIMIT 1)
      UNION ALL
      (SELECT c.through_seq, c.content_sha256, NULL FROM audit_chain_anchors c WHERE c.zone_id = zone ORDER BY c.through_seq DESC LIMIT 1)
      ORDER BY 1 DESC LIMIT 1) t
    UNION ALL
    (SELECT 'mark', NULL::uuid, h.seq, h.content_sha256, NULL::text, NULL::smallint
       FROM audit_chain_heads h WHERE h.zone_id = zone ORDER BY h.seq DESC LIMIT 1)
    UNION ALL
    SELECT 'known', a.event_id, a.chain_seq, a.content_sha256, to_char(a.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), a.hash_version
      FROM audit_events a WHERE a.zone_id = zone AND a.event_id = ANY(ids);
END $$;
REVOKE ALL ON FUNCTION caracal.audit_append_begin(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.audit_append_begin(uuid, uuid[]) TO {{role.audit}};
