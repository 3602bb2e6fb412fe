-- A retention floor the audit role cannot lower (R-AUD-4, R-DB-2): `audit_drop_partition` keeps at least this many
-- whole months whatever its caller asks, so the audit role cannot use retention to delete recent history early.
-- Operators change it as the migration owner (UPDATE caracal.audit_retention_floor SET min_keep_months = …).
CREATE TABLE audit_retention_floor (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  min_keep_months integer NOT NULL CHECK (min_keep_months >= 1)
);
INSERT INTO audit_retention_floor (min_keep_months) VALUES (12);

CREATE OR REPLACE FUNCTION caracal.audit_drop_partition(month date, keep_months integer) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = caracal, pg_temp
  AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := format('audit_events_%s', to_char(first, 'YYYY_MM'));
  keep integer;
  r record;
BEGIN
  IF keep_months IS NULL OR keep_months < 1 THEN
    RAISE EXCEPTION 'audit retention must keep at least one whole month';
  END IF;
  keep := GREATEST(keep_months, (SELECT min_keep_months FROM caracal.audit_retention_floor));
  IF first + make_interval(months => 1) > date_trunc('month', now()) - make_interval(months => keep) THEN
    RAISE EXCEPTION 'partition % is inside the retention period', name;
  END IF;
  IF to_regclass(format('caracal.%I', name)) IS NULL THEN
    RETURN false;
  END IF;
  FOR r IN EXECUTE format(
      'SELECT DISTINCT ON (zone_id) zone_id, chain_seq, content_sha256 FROM caracal.%I ORDER BY zone_id, chain_seq DESC', name)
  LOOP
    PERFORM set_config('caracal.zone_id', r.zone_id::text, true);
    INSERT INTO caracal.audit_chain_anchors (zone_id, through_seq, content_sha256, partition_name)
      VALUES (r.zone_id, r.chain_seq, r.content_sha256, name)
      ON CONFLICT DO NOTHING;
  END LOOP;
  EXECUTE format('ALTER TABLE caracal.audit_events DETACH PARTITION caracal.%I', name);
  EXECUTE format('DROP TABLE caracal.%I', name);
  RETURN true;
END $$;
