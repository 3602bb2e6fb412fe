-- The delegated mint's graph in one round trip (R-STS-6, R-CO-1), and (below) an application's labels for the zone
-- policy sets in one. delegation_graph binds the zone for the rest of the statement's transaction, then reads the
-- named edge and every edge its path names (accepted ones only: an edge awaiting its target application's consent
-- authorises nothing), the agent session, the source session of every edge, every session above each of them up to
-- its root (11 levels: a backstop over the coordinator's depth limit of 10), each with whether its application is
-- disabled or missing, and which of these ids carry a revocation record. One row per record: kind 'session' | 'edge'
-- | 'revoked'. SECURITY INVOKER: row-level security applies exactly as to the caller's own queries.

CREATE FUNCTION caracal.delegation_graph(p_zone uuid, p_agent uuid, p_edge uuid)
  RETURNS TABLE (kind text, item jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = caracal, pg_temp
  -- Every lookup is by key whatever the arguments: one cached plan serves every call, none is planned per call.
  SET plan_cache_mode = force_generic_plan
  AS $$
BEGIN
  PERFORM set_config('caracal.zone_id', p_zone::text, true);
  RETURN QUERY
    WITH RECURSIVE
      -- Every lookup is by primary key (= ANY of an array), so the cost follows the chain, not the tables.
      chain AS (
        SELECT e.id, e.source_session_id, e.target_session_id, e.scopes, e.path, e.hop_count, e.expires_at, e.revoked_at
          FROM caracal.delegation_edges e
         WHERE e.id = ANY (ARRAY(SELECT p_edge WHERE p_edge IS NOT NULL
                                 UNION ALL SELECT unnest(d.path) FROM caracal.delegation_edges d WHERE d.id = p_edge))
           AND e.accepted_at IS NOT NULL),
      up AS (
        SELECT s.id, s.status, s.expires_at, s.application_id, s.parent_id, 0 AS level FROM caracal.agent_sessions s
         WHERE s.id = ANY (ARRAY(SELECT p_agent UNION SELECT c.source_session_id FROM chain c))
        UNION
        SELECT s.id, s.status, s.expires_at, s.application_id, s.parent_id, up.level + 1
          FROM up CROSS JOIN LATERAL (SELECT * FROM caracal.agent_sessions p WHERE p.id = up.parent_id) s
         WHERE up.level < 11),
      sessions AS (
        SELECT DISTINCT ON (up.id) up.id, up.status, up.expires_at, up.application_id,
               coalesce((SELECT a.disabled_at IS NOT NULL FROM caracal.applications a WHERE a.id = up.application_id), true)
                 AS application_disabled
          FROM up ORDER BY up.id, up.level)
    SELECT 'session'::text, to_jsonb(x) FROM sessions x
    UNION ALL SELECT 'edge'::text, to_jsonb(c) FROM chain c
    UNION ALL SELECT 'revoked'::text, to_jsonb(r.target_id) FROM caracal.revocations r
     WHERE r.zone_id = p_zone AND r.target_id = ANY (ARRAY(SELECT x.id FROM sessions x UNION ALL SELECT c.id FROM chain c));
END $$;

REVOKE ALL ON FUNCTION caracal.delegation_graph(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.delegation_graph(uuid, uuid, uuid) TO {{role.sts}};

-- An application's labels (R-POL-1 `principal.labels`) for the zone policy sets, read on every mint of a zone with
-- active sets: one round trip, the zone bound for the statement as above.
CREATE FUNCTION caracal.application_labels(p_zone uuid, p_app uuid)
  RETURNS text[]
  LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = caracal, pg_temp
  AS $$
DECLARE
  found text[];
BEGIN
  PERFORM set_config('caracal.zone_id', p_zone::text, true);
  SELECT a.labels INTO found FROM caracal.applications a WHERE a.id = p_app;
  RETURN coalesce(found, '{}');
END $$;

REVOKE ALL ON FUNCTION caracal.application_labels(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.application_labels(uuid, uuid) TO {{role.sts}};
