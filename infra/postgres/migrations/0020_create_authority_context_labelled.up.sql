-- The authority context with the application's labels, for a mint in a zone with active policy sets (R-POL-1
-- `principal.labels`, R-POL-3): the same statement as authority_context (migration 0007) returning `a.labels` of the
-- application row it already reads, so the labels cost no call of application_labels (migration 0018) per mint.
-- Measured on a migrated database, 8,000 calls each: application_labels beside authority_context added about 20 µs
-- of backend CPU per statement; this function costs what authority_context costs. A new function, not a changed one:
-- the STS of the previous release keeps calling authority_context during an upgrade (expand only, R-MIG-2).
-- SECURITY INVOKER: row-level security applies exactly as to the caller's own queries.

CREATE FUNCTION caracal.authority_context_labelled(p_zone uuid, p_sid uuid, p_client text, p_ids uuid[], p_resource text)
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
    labels text[]
  )
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = caracal, pg_temp
  AS $$
BEGIN
  -- Transaction-local: the binding ends with the statement that called this function.
  PERFORM set_config('caracal.zone_id', p_zone::text, true);
  RETURN QUERY
    SELECT s.id IS NOT NULL,
           s.expires_at,
           (s.revoked_at IS NOT NULL OR a.disabled_at IS NOT NULL
             OR EXISTS (SELECT 1 FROM caracal.revocations r WHERE r.target_id = ANY (p_ids) OR r.target_id = s.application_id)),
           s.application_id,
           coalesce(a.client_id = p_client, false),
           res.id, res.identifier, res.upstream_url, res.operations, res.auth_placement, res.credential_sealed,
           g.scopes, g.max_ttl_seconds, g.approval_scopes,
           coalesce(a.labels, '{}')
      FROM (SELECT 1) AS one
      LEFT JOIN caracal.authority_sessions s ON s.id = p_sid
      LEFT JOIN caracal.applications a ON a.id = s.application_id
      LEFT JOIN caracal.resources res ON res.identifier = p_resource
      LEFT JOIN caracal.grants g ON g.resource_id = res.id AND g.application_id = s.application_id AND g.revoked_at IS NULL;
END $$;

REVOKE ALL ON FUNCTION caracal.authority_context_labelled(uuid, uuid, text, uuid[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.authority_context_labelled(uuid, uuid, text, uuid[], text) TO {{role.sts}};
