-- A mint's reads, and a gateway decision's, in one function call (R-STS-3, R-STS-6, R-CO-1): the authority context
-- of migration 0007 with the application's labels (migration 0020) and, for a delegated mint whose graph's shape the
-- STS keeps, the state of the graph above the mint (migration 0019); with empty p_sessions and p_edges, `graph` is an
-- empty array. Only the first mint of a chain, which reads its graph whole (migration 0018), still goes through
-- authority_context. Everything a revocation, a suspension, an end, an expiry, a disabled application
-- or an acceptance changes is read here on every call, as by the two functions it stands for; `graph` holds the rows
-- of caracal.delegation_state as [kind, item] pairs, built as json text (nothing reads it inside the database; jsonb
-- cost a binary build and its conversion back to text: about 40 µs of backend CPU per call). One call binds the zone
-- once and pays one function's overhead where the statement joining authority_context to delegation_state paid two.
-- Every lookup is by key: revocation records and the resource by (zone, key), every other row by its id, with the
-- zone policy checking it. Sequential scans are off for the function's own statement: on tables
-- small enough that the planner prefers reading them whole, each row read also evaluates the zone policy, and at a few
-- hundred agent sessions that cost more than the rest of the statement. Measured on a migrated database (300 agent
-- sessions, 250 edges, 180 applications), 5,000 prepared calls each as the STS role, backend CPU per call: 672 µs for
-- authority_context with delegation_state, 274-336 µs for this function with jsonb; with 3,000 revocation records in
-- the zone 2,120 µs against 310 µs, the lineage's revocations now found through (zone_id, target_id) rather than
-- among every record of the zone.
-- SECURITY INVOKER: row-level security applies exactly as to the caller's own queries.

CREATE FUNCTION caracal.authority_context_keyed(p_zone uuid, p_sid uuid, p_client text, p_ids uuid[], p_resource text,
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

REVOKE ALL ON FUNCTION caracal.authority_context_keyed(uuid, uuid, text, uuid[], text, uuid[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.authority_context_keyed(uuid, uuid, text, uuid[], text, uuid[], uuid[]) TO {{role.sts}};
