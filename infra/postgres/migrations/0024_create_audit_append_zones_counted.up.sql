-- The one-statement append of migration 0022 (R-AUD-2, R-AUD-3), with each zone's event ids looked up on their own.
-- 0022's function checks every id of the call in every zone it appends: an id is looked up in each monthly partition,
-- so a call for ten zones probed ten times the indexes it needed (a tenth of a millisecond per zone for a few dozen
-- ids, a millisecond for a thousand). Here p_id_counts gives the number of ids each zone has in p_ids, in the order
-- of p_zones, and each zone checks only its own slice. Everything else is 0022's, unchanged. A new overload beside
-- 0022's, which the previous release keeps calling during an upgrade (expand only, R-MIG-2).
--
-- One element per zone in p_zones, p_tip_seqs, p_tip_shas, p_id_counts, p_rows (a JSON array of rows as
-- audit_events columns) and p_marks ({"seq", "content_sha256", "published_at", "sig"} or null); p_ids holds every
-- zone's event ids, zone after zone. Counts that do not add up to p_ids are refused (22023) before anything is done.

CREATE FUNCTION caracal.audit_append_zones(p_zones uuid[], p_tip_seqs bigint[], p_tip_shas text[], p_id_counts integer[], p_ids uuid[], p_rows json[], p_marks json[])
  RETURNS TABLE (zone uuid, appended integer)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = caracal, pg_temp
  AS $$
DECLARE
  i integer;
  z uuid;
  m json;
  t_seq bigint;
  t_sha text;
  m_seq bigint;
  m_sha text;
  n integer;
  firsts integer[] := '{}';
  total integer := 0;
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_zones), 0) LOOP
    IF p_id_counts[i] IS NULL OR p_id_counts[i] < 0 THEN
      RAISE EXCEPTION 'audit_append_zones: no id count for zone %', i USING ERRCODE = '22023';
    END IF;
    firsts := firsts || (total + 1);
    total := total + p_id_counts[i];
  END LOOP;
  IF cardinality(p_id_counts) IS DISTINCT FROM cardinality(p_zones) OR total <> coalesce(cardinality(p_ids), 0) THEN
    RAISE EXCEPTION 'audit_append_zones: id counts do not match the zones and ids given' USING ERRCODE = '22023';
  END IF;
  FOR i IN SELECT u.o FROM unnest(p_zones) WITH ORDINALITY AS u(z, o) ORDER BY u.z LOOP
    z := p_zones[i];
    m := p_marks[i];
    -- Transaction-local: the binding and the locks end with the statement that called this function.
    PERFORM set_config('caracal.zone_id', z::text, true);
    PERFORM pg_advisory_xact_lock(1818584167, hashtext(z::text));
    IF m IS NOT NULL THEN
      INSERT INTO audit_chain_heads (zone_id, seq, content_sha256, published_at, sig)
        VALUES (z, (m->>'seq')::bigint, m->>'content_sha256', m->>'published_at', m->>'sig')
        ON CONFLICT DO NOTHING;
    END IF;
    SELECT t.seq, t.sha INTO t_seq, t_sha FROM (
      (SELECT a.chain_seq AS seq, a.content_sha256 AS sha FROM audit_events a WHERE a.zone_id = z
        ORDER BY a.chain_seq DESC, a.recorded_at DESC LIMIT 1)
      UNION ALL
      (SELECT c.through_seq, c.content_sha256 FROM audit_chain_anchors c WHERE c.zone_id = z ORDER BY c.through_seq DESC LIMIT 1)
      ORDER BY 1 DESC LIMIT 1) t;
    SELECT h.seq, h.content_sha256 INTO m_seq, m_sha FROM audit_chain_heads h WHERE h.zone_id = z ORDER BY h.seq DESC LIMIT 1;
    IF t_seq IS NULL OR t_seq <> p_tip_seqs[i] OR t_sha <> p_tip_shas[i]
       OR (m_seq IS NOT NULL AND (t_seq < m_seq OR (t_seq = m_seq AND t_sha <> m_sha)))
       OR EXISTS (SELECT 1 FROM audit_events a WHERE a.zone_id = z AND a.event_id = ANY (p_ids[firsts[i] : firsts[i] + p_id_counts[i] - 1])) THEN
      zone := z;
      appended := 0;
      RETURN NEXT;
      CONTINUE;
    END IF;
    INSERT INTO audit_events (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id,
                              application_id, resource, subject, data, data_canonical, hash_version, content_sha256, prev_content_sha256, chain_hmac)
      SELECT u.event_id, z, u.chain_seq, u.recorded_at, u.occurred_at, u.source, u.event_type, u.decision, u.reason, u.request_id,
             u.application_id, u.resource, u.subject, u.data::jsonb, u.data, u.hash_version, u.content_sha256, u.prev_content_sha256, u.chain_hmac
        FROM json_to_recordset(p_rows[i]) AS u(event_id uuid, chain_seq bigint, recorded_at timestamptz, occurred_at timestamptz,
             source text, event_type text, decision text, reason text, request_id text, application_id text, resource text, subject text,
             data text, hash_version smallint, content_sha256 text, prev_content_sha256 text, chain_hmac text);
    GET DIAGNOSTICS n = ROW_COUNT;
    zone := z;
    appended := n;
    RETURN NEXT;
  END LOOP;
END $$;

REVOKE ALL ON FUNCTION caracal.audit_append_zones(uuid[], bigint[], text[], integer[], uuid[], json[], json[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.audit_append_zones(uuid[], bigint[], text[], integer[], uuid[], json[], json[]) TO {{role.audit}};
