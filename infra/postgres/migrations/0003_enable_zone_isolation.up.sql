-- Row-level security on every zone-owned table, enabled and forced, one `zone_isolation` policy each (R-DB-2).
-- FORCE makes the policy bind the table owner as well; only superusers and BYPASSRLS roles escape it,
-- and no service role is either.

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'applications', 'resources', 'grants', 'policy_sets', 'policy_set_versions', 'authority_sessions',
    'agent_sessions', 'delegation_edges', 'approvals', 'revocations', 'signing_keys', 'idempotency_keys',
    'outbox', 'audit_events'
  ] LOOP
    EXECUTE format('ALTER TABLE caracal.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE caracal.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY zone_isolation ON caracal.%I USING (zone_id = caracal.current_zone_id()) WITH CHECK (zone_id = caracal.current_zone_id())',
      t);
  END LOOP;
END $$;
