-- The audit ledger (R-AUD-2): per-zone hash chain, partitioned by month so retention drops whole partitions.

CREATE TABLE audit_events (
  event_id uuid NOT NULL,
  zone_id uuid NOT NULL,
  chain_seq bigint NOT NULL CHECK (chain_seq > 0),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  occurred_at timestamptz NOT NULL,
  source text NOT NULL,
  event_type text NOT NULL,
  decision text,
  reason text,
  request_id text,
  application_id text,
  resource text,
  subject text,
  data jsonb NOT NULL,
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  prev_content_sha256 text NOT NULL,
  chain_hmac text NOT NULL CHECK (chain_hmac ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (zone_id, chain_seq, recorded_at)
) PARTITION BY RANGE (recorded_at);

CREATE INDEX audit_events_event_id ON audit_events (zone_id, event_id);
CREATE INDEX audit_events_time ON audit_events (zone_id, occurred_at);
CREATE INDEX audit_events_request ON audit_events (zone_id, request_id) WHERE request_id IS NOT NULL;

-- Rows that arrive for a month without a partition still land (never lost); the sweeper creates months ahead.
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

-- Creates the partition holding `month`. SECURITY DEFINER so the audit role can keep months ahead
-- without holding CREATE on the schema; it can create nothing else.
CREATE FUNCTION caracal.audit_ensure_partition(month date) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = caracal, pg_temp
  AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := format('audit_events_%s', to_char(first, 'YYYY_MM'));
BEGIN
  IF to_regclass(format('caracal.%I', name)) IS NULL THEN
    EXECUTE format('CREATE TABLE caracal.%I PARTITION OF caracal.audit_events FOR VALUES FROM (%L) TO (%L)',
                   name, first, (first + interval '1 month')::date);
  END IF;
  RETURN name;
END $$;
REVOKE ALL ON FUNCTION caracal.audit_ensure_partition(date) FROM PUBLIC;

SELECT caracal.audit_ensure_partition((date_trunc('month', now()) + make_interval(months => m))::date)
  FROM generate_series(-1, 2) AS m;
