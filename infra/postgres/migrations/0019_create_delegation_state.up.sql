-- What can change in the graph above a delegated mint, for an STS that already holds the graph's shape (R-STS-6,
-- R-CO-1). The shape — which sessions sit above the mint, which edges its chain holds, their applications and scopes
-- — never changes once an edge is accepted, so an STS instance may keep it; everything a revocation, a suspension, an
-- end, an expiry or a disabled application changes is read here on every mint, by key, in the same statement as the
-- authority context. Rows as in caracal.delegation_graph: kind 'session' (status, expiry, application disabled or
-- missing), 'edge' (expiry, revocation, acceptance) and 'revoked' (ids that carry a revocation record). An id with no
-- row is gone from the store; the caller then reads the whole graph again. SECURITY INVOKER: row-level security
-- applies exactly as to the caller's own queries.

CREATE FUNCTION caracal.delegation_state(p_zone uuid, p_sessions uuid[], p_edges uuid[])
  RETURNS TABLE (kind text, item jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = caracal, pg_temp
  -- Every lookup is by key whatever the arguments: one cached plan serves every call, none is planned per call.
  SET plan_cache_mode = force_generic_plan
  AS $$
BEGIN
  PERFORM set_config('caracal.zone_id', p_zone::text, true);
  RETURN QUERY
    SELECT 'session'::text,
           jsonb_build_object('id', s.id, 'status', s.status, 'expires_at', s.expires_at,
                              'application_disabled', coalesce(a.disabled_at IS NOT NULL, true))
      FROM caracal.agent_sessions s LEFT JOIN caracal.applications a ON a.id = s.application_id
     WHERE s.id = ANY (p_sessions)
    UNION ALL
    SELECT 'edge'::text,
           jsonb_build_object('id', e.id, 'expires_at', e.expires_at, 'revoked_at', e.revoked_at,
                              'accepted', e.accepted_at IS NOT NULL)
      FROM caracal.delegation_edges e
     WHERE e.id = ANY (p_edges)
    UNION ALL
    SELECT 'revoked'::text, to_jsonb(r.target_id) FROM caracal.revocations r
     WHERE r.zone_id = p_zone AND r.target_id = ANY (p_sessions || p_edges);
END $$;

REVOKE ALL ON FUNCTION caracal.delegation_state(uuid, uuid[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.delegation_state(uuid, uuid[], uuid[]) TO {{role.sts}};
