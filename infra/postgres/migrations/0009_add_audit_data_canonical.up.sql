-- The canonical JSON of each audit event exactly as it was hashed (R-AUD-2, R-AUD-3). Verification hashes this
-- text as stored instead of re-serialising the jsonb copy, and every reader (search, export) serves it; the jsonb
-- `data` stays as a copy for ad-hoc SQL. Rows written before this column existed are verified from `data`.
ALTER TABLE audit_events ADD COLUMN data_canonical text;

-- One round trip for the start of a zone append: takes the zone's append lock, then returns the chain tip (row or
-- retention anchor) and the content hashes of any of `ids` already in the ledger. Runs as the caller (RLS holds).
CREATE FUNCTION caracal.audit_append_prepare(zone uuid, ids uuid[])
  RETURNS TABLE (kind text, event_id uuid, chain_seq bigint, content_sha256 text)
  LANGUAGE plpgsql SET search_path = caracal, pg_temp
  AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1818584167, hashtext(zone::text));
  RETURN QUERY
    SELECT 'tip', NULL::uuid, t.seq, t.sha FROM (
      (SELECT a.chain_seq AS seq, a.content_sha256 AS sha FROM audit_events a WHERE a.zone_id = zone ORDER BY a.chain_seq DESC LIMIT 1)
      UNION ALL
      (SELECT c.through_seq, c.content_sha256 FROM audit_chain_anchors c WHERE c.zone_id = zone ORDER BY c.through_seq DESC LIMIT 1)
      ORDER BY 1 DESC LIMIT 1) t
    UNION ALL
    SELECT 'known', a.event_id, a.chain_seq, a.content_sha256 FROM audit_events a WHERE a.zone_id = zone AND a.event_id = ANY(ids);
END $$;
REVOKE ALL ON FUNCTION caracal.audit_append_prepare(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.audit_append_prepare(uuid, uuid[]) TO {{role.audit}};
