-- Audit retention (R-AUD-4): whole monthly partitions are dropped once past the retention period. Before a
-- partition goes, the last row of each zone's chain in it is kept as an anchor, so the verifier knows where the
-- remaining chain must start and deleting the oldest rows by hand is still a break (R-AUD-3).

CREATE TABLE audit_chain_anchors (
  zone_id uuid NOT NULL,
  through_seq bigint NOT NULL CHECK (through_seq > 0),
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  partition_name text NOT NULL,
  dropped_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (zone_id, through_seq)
);
ALTER TABLE audit_chain_anchors ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_anchors FORCE ROW LEVEL SECURITY;
CREATE POLICY zone_isolation ON audit_chain_anchors
  USING (zone_id = caracal.current_zone_id()) WITH CHECK (zone_id = caracal.current_zone_id());

-- A retention floor the audit role cannot lower (R-AUD-4, R-DB-2): `audit_drop_partition` keeps at least this many
-- whole months whatever its caller asks, so the audit role cannot use retention to delete recent history early.
-- Operators change it as the migration owner (UPDATE caracal.audit_retention_floor SET min_keep_months = …).
CREATE TABLE audit_retention_floor (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  min_keep_months integer NOT NULL CHECK (min_keep_months >= 1)
);
INSERT INTO audit_retention_floor (min_keep_months) VALUES (12);

-- Drops the partition holding `month` when all of it is older than the retention period: `keep_months` whole
-- months, never fewer than the floor above. SECURITY DEFINER: the audit role can retire old months but still
-- cannot UPDATE or DELETE a single row.
CREATE FUNCTION caracal.audit_drop_partition(month date, keep_months integer) RETURNS boolean
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
REVOKE ALL ON FUNCTION caracal.audit_drop_partition(date, integer) FROM PUBLIC;

-- Creating a month whose rows already landed in the default partition moves them into the new partition first
-- (ATTACH refuses while the default holds rows of that range). Nothing is lost: rows move within the table.
CREATE OR REPLACE FUNCTION caracal.audit_ensure_partition(month date) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = caracal, pg_temp
  AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  upto date := (date_trunc('month', month) + interval '1 month')::date;
  name text := format('audit_events_%s', to_char(first, 'YYYY_MM'));
BEGIN
  IF to_regclass(format('caracal.%I', name)) IS NOT NULL THEN
    RETURN name;
  END IF;
  LOCK TABLE caracal.audit_events_default IN SHARE ROW EXCLUSIVE MODE;
  IF EXISTS (SELECT 1 FROM caracal.audit_events_default WHERE recorded_at >= first AND recorded_at < upto) THEN
    EXECUTE format('CREATE TABLE caracal.%I (LIKE caracal.audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format('INSERT INTO caracal.%I SELECT * FROM caracal.audit_events_default WHERE recorded_at >= %L AND recorded_at < %L', name, first, upto);
    EXECUTE format('DELETE FROM caracal.audit_events_default WHERE recorded_at >= %L AND recorded_at < %L', first, upto);
    EXECUTE format('ALTER TABLE caracal.audit_events ATTACH PARTITION caracal.%I FOR VALUES FROM (%L) TO (%L)', name, first, upto);
  ELSE
    EXECUTE format('CREATE TABLE caracal.%I PARTITION OF caracal.audit_events FOR VALUES FROM (%L) TO (%L)', name, first, upto);
  END IF;
  RETURN name;
END $$;

GRANT SELECT ON audit_chain_anchors TO {{role.audit}}, {{role.api}};
GRANT EXECUTE ON FUNCTION caracal.audit_drop_partition(date, integer) TO {{role.audit}};
