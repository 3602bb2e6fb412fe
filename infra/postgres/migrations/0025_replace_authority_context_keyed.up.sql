-- Migration 0021's authority_context_keyed with the same arguments, columns and answers, and a second statement for
-- the call without a graph (p_sessions and p_edges both empty), which is what every direct exchange and every
-- gateway decision asks. 0021's single statement built the graph's subquery even then: agent sessions, their
-- applications, delegation edges and a third revocations lookup were opened, locked and set up on every call, to
-- find nothing. Measured on a migrated database as the STS role, one prepared call per statement with ten queued on a
-- connection, the two functions in turns: about 150-195 µs of backend CPU per call against 175-235 µs for 0021's
-- (the machine moved between runs). A call that asks for a
-- graph runs 0021's statement unchanged. The signature is 0021's, so the previous release calls this body during an
-- upgrade and gets the same rows (expand only, R-MIG-2); grants and ownership stay as 0021 set them.
-- SECURITY INVOKER: row-level security applies exactly as to the caller's own queries.

CREATE OR REPLACE FUNCTION caracal.authority_context_keyed(p_zone uuid, p_sid uuid, p_client text, p_ids uuid[], p_resource text,
                                                    p_sessions uuid[], p_edges uuid[])
  RETURNS TABLE (
    session_found boolean,
    session_expires_at timestamptz,
    lineage_revoked boolean,
    application_id uuid,
    client_matches boolean,
    resource_id uuid,
    identifier text,
    upstream_url text,
    operations jsonb,
    auth_placement jsonb,
    credential_sealed bytea,
    scopes text[],
    max_ttl_seconds integer,
    approval_scopes text[],
    labels text[],
    graph json
  )
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = caracal, pg_temp
  -- Every lookup is by key whatever the arguments: one cached plan serves every call, none is planned per call.
  SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off
  AS $$
BEGIN
  -- Transaction-local: the binding ends with the statement that called this function.
  PERFORM set_config('caracal.zone_id', p_zone::text, true);
  -- No graph asked for (every direct exchange and every gateway decision): the same row without the graph's
  -- subquery, so the statement opens, locks and initialises none of the graph's tables.
  IF cardinality(p_sessions) = 0 AND cardinality(p_edges) = 0 THEN
    RETURN QUERY
      SELECT s.id IS NOT NULL,
             s.expires_at,
             (s.revoked_at IS NOT NULL OR a.disabled_at IS NOT NULL
               OR EXISTS (SELECT 1 FROM caracal.revocations r WHERE r.zone_id = p_zone AND r.target_id = ANY (p_ids))
               OR EXISTS (SELECT 1 FROM caracal.revocations r WHERE r.zone_id = p_zone AND r.target_id = s.application_id)),
             s.application_id,
             coalesce(a.client_id = p_client, false),
             res.id, res.identifier, res.upstream_url, res.operations, res.auth_placement, res.credential_sealed,
             g.scopes, g.max_ttl_seconds, g.approval_scopes,
             coalesce(a.labels, '{}'),
             '[]'::json
        FROM (SELECT 1) AS one
        LEFT JOIN caracal.authority_sessions s ON s.id = p_sid
        LEFT JOIN caracal.applications a ON a.id = s.application_id
        LEFT JOIN caracal.resources res ON res.zone_id = p_zone AND res.identifier = p_resource
        LEFT JOIN caracal.grants g ON g.resource_id = res.id AND g.application_id = s.application_id AND g.revoked_at IS NULL;
    RETURN;
  END IF;
  RETURN QUERY
    SELECT s.id IS NOT NULL,
           s.expires_at,
           (s.revoked_at IS NOT NULL OR a.disabled_at IS NOT NULL
             OR EXISTS (SELECT 1 FROM caracal.revocations r WHERE r.zone_id = p_zone AND r.target_id = ANY (p_ids))
             OR EXISTS (SELECT 1 FROM caracal.revocations r WHERE r.zone_id = p_zone AND r.target_id = s.application_id)),
           s.application_id,
           coalesce(a.client_id = p_client, false),
           res.id, res.identifier, res.upstream_url, res.operations, res.auth_placement, res.credential_sealed,
           g.scopes, g.max_ttl_seconds, g.approval_scopes,
           coalesce(a.labels, '{}'),
           (SELECT coalesce(json_agg(d.pair), '[]'::json)
              FROM (SELECT json_build_array('session',
                             json_build_object('id', gs.id, 'status', gs.status, 'expires_at', gs.expires_at,
                                                'application_disabled', coalesce(ga.disabled_at IS NOT NULL, true))) AS pair
                      FROM caracal.agent_sessions gs
                      LEFT JOIN caracal.applications ga ON ga.id = gs.application_id
                     WHERE gs.id = ANY (p_sessions)
                    UNION ALL
                    SELECT json_build_array('edge',
                             json_build_object('id', e.id, 'expires_at', e.expires_at, 'revoked_at', e.revoked_at,
                                                'accepted', e.accepted_at IS NOT NULL))
                      FROM caracal.delegation_edges e
                     WHERE e.id = ANY (p_edges)
                    UNION ALL
                    SELECT json_build_array('revoked', r.target_id)
                      FROM caracal.revocations r
                     WHERE r.zone_id = p_zone AND r.target_id = ANY (p_sessions || p_edges)) d)
      FROM (SELECT 1) AS one
      LEFT JOIN caracal.authority_sessions s ON s.id = p_sid
      LEFT JOIN caracal.applications a ON a.id = s.application_id
      LEFT JOIN caracal.resources res ON res.zone_id = p_zone AND res.identifier = p_resource
      LEFT JOIN caracal.grants g ON g.resource_id = res.id AND g.application_id = s.application_id AND g.revoked_at IS NULL;
END $$;
