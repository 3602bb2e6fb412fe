-- Planner statistics for the audit ledger's partitions, gathered as rows arrive (R-AUD-2). Both appends
-- (audit_append_begin, migration 0012, and audit_append_zones, migration 0022) look up an append's event ids in its
-- zone. A plan made while a month's partition has no statistics reads that partition through (zone_id, occurred_at)
-- with the ids as a filter: every row of the zone, on every append, until the partition is analyzed and the plan is
-- made again. Autovacuum analyzes it only on its own schedule, long after a busy zone has thousands of rows (and its
-- vacuum counts pages without gathering column statistics). The audit service calls this function while it appends:
-- it analyzes each partition that fills at least p_min_pages pages and has no statistics for its event ids (never
-- analyzed, or analyzed while empty). Later analyses are autovacuum's. The size is read from the file itself, not
-- from the cumulative statistics, which a busy session reports only every few seconds. Analyzing makes every session
-- plan its lookups again, now through (zone_id, event_id). SECURITY DEFINER: the partitions belong to the migration
-- role, not to the audit role. A partition that another session is analyzing, or that retention has just dropped,
-- is skipped rather than waited for. Returns the names of the partitions analyzed.

CREATE FUNCTION caracal.audit_analyze_partitions(p_min_pages integer) RETURNS SETOF text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = caracal, pg_temp SET lock_timeout = '100ms'
  AS $$
DECLARE
  r record;
BEGIN
  IF p_min_pages IS NULL OR p_min_pages < 1 THEN
    RAISE EXCEPTION 'p_min_pages must be at least 1' USING ERRCODE = '22023';
  END IF;
  FOR r IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'caracal.audit_events'::regclass
       AND pg_relation_size(c.oid) / current_setting('block_size')::bigint >= p_min_pages
       AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = 'caracal' AND s.tablename = c.relname AND s.attname = 'event_id')
     ORDER BY c.relname
  LOOP
    BEGIN
      EXECUTE format('ANALYZE caracal.%I', r.relname);
      RETURN NEXT r.relname;
    EXCEPTION WHEN lock_not_available OR undefined_table THEN
      NULL;
    END;
  END LOOP;
END $$;

REVOKE ALL ON FUNCTION caracal.audit_analyze_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caracal.audit_analyze_partitions(integer) TO {{role.audit}};
