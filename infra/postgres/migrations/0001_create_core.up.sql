-- Core schema: zones, applications, resources, grants, policy sets, sessions, delegations, approvals,
-- revocations, admin tokens, admin audit, outbox, idempotency, signing keys (R-DB-1).
-- Every zone-owned table has RLS enabled and forced with a `zone_isolation` policy (R-DB-2).
-- Role names differ per installation; the runner renders the role tokens used in grants.
-- References between zone-owned rows include zone_id (`FOREIGN KEY (zone_id, x_id) REFERENCES x (zone_id, id)`):
-- foreign-key checks bypass RLS, so a plain key on id would let a zone-A row point at, and probe for, a zone-B row
-- (R-DB-3).

-- Zone id bound by the transaction (`set_config('caracal.zone_id', …, true)`); NULL when unset,
-- so an unbound connection matches no row at all.
CREATE FUNCTION caracal.current_zone_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('caracal.zone_id', true), '')::uuid $$;

CREATE TABLE zones (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);

CREATE TABLE applications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  client_id text NOT NULL UNIQUE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  secret_hash text NOT NULL,
  secret_alg text NOT NULL CHECK (secret_alg IN ('scrypt', 'sha256')),
  labels text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  secret_rotated_at timestamptz,
  disabled_at timestamptz,
  UNIQUE (zone_id, name),
  UNIQUE (zone_id, id)
);

CREATE TABLE resources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  identifier text NOT NULL CHECK (identifier ~ '^resource://[a-z0-9][a-z0-9._-]*$'),
  upstream_url text NOT NULL,
  credential_sealed bytea,
  auth_placement jsonb NOT NULL DEFAULT '{"in":"header","name":"authorization","prefix":"Bearer "}',
  operations jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (zone_id, identifier),
  UNIQUE (zone_id, id)
);

CREATE TABLE grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  application_id uuid NOT NULL,
  resource_id uuid NOT NULL,
  roles text[] NOT NULL DEFAULT '{}',
  scopes text[] NOT NULL,
  max_ttl_seconds integer NOT NULL DEFAULT 900 CHECK (max_ttl_seconds BETWEEN 1 AND 3600),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  UNIQUE (zone_id, application_id, resource_id),
  FOREIGN KEY (zone_id, application_id) REFERENCES applications (zone_id, id),
  FOREIGN KEY (zone_id, resource_id) REFERENCES resources (zone_id, id)
);

CREATE TABLE policy_sets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  name text NOT NULL,
  active_version integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  UNIQUE (zone_id, name),
  UNIQUE (zone_id, id)
);

-- Versions are immutable: no role is granted UPDATE or DELETE, and a trigger refuses them for the owner too.
CREATE TABLE policy_set_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  policy_set_id uuid NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  rego_source text NOT NULL,
  wasm_bundle bytea NOT NULL,
  bundle_sha256 text NOT NULL CHECK (bundle_sha256 ~ '^[0-9a-f]{64}$'),
  entrypoint text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  UNIQUE (policy_set_id, version),
  FOREIGN KEY (zone_id, policy_set_id) REFERENCES policy_sets (zone_id, id)
);

CREATE TABLE authority_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  application_id uuid NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  UNIQUE (zone_id, id),
  FOREIGN KEY (zone_id, application_id) REFERENCES applications (zone_id, id)
);

CREATE TABLE agent_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  authority_session_id uuid,
  application_id uuid NOT NULL,
  parent_id uuid,
  depth integer NOT NULL DEFAULT 0 CHECK (depth >= 0),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'ended', 'expired', 'revoked')),
  labels text[] NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  ttl_seconds integer NOT NULL CHECK (ttl_seconds BETWEEN 1 AND 86400),
  expires_at timestamptz NOT NULL,
  last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  UNIQUE (zone_id, id),
  FOREIGN KEY (zone_id, authority_session_id) REFERENCES authority_sessions (zone_id, id),
  FOREIGN KEY (zone_id, application_id) REFERENCES applications (zone_id, id),
  FOREIGN KEY (zone_id, parent_id) REFERENCES agent_sessions (zone_id, id)
);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at) WHERE status IN ('active', 'suspended');

CREATE TABLE delegation_edges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  source_session_id uuid NOT NULL,
  target_session_id uuid NOT NULL,
  parent_edge_id uuid,
  scopes text[] NOT NULL,
  path uuid[] NOT NULL DEFAULT '{}',
  hop_count integer NOT NULL CHECK (hop_count BETWEEN 1 AND 10),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  CHECK (source_session_id <> target_session_id),
  UNIQUE (zone_id, id),
  FOREIGN KEY (zone_id, source_session_id) REFERENCES agent_sessions (zone_id, id),
  FOREIGN KEY (zone_id, target_session_id) REFERENCES agent_sessions (zone_id, id),
  FOREIGN KEY (zone_id, parent_edge_id) REFERENCES delegation_edges (zone_id, id)
);

CREATE TABLE approvals (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  application_id uuid NOT NULL,
  resource_id uuid,
  scopes text[] NOT NULL,
  request jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'consumed', 'expired')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  decided_at timestamptz,
  decided_by text,
  consumed_at timestamptz,
  FOREIGN KEY (zone_id, application_id) REFERENCES applications (zone_id, id),
  FOREIGN KEY (zone_id, resource_id) REFERENCES resources (zone_id, id)
);

CREATE TABLE revocations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  target_type text NOT NULL CHECK (target_type IN ('authority_session', 'agent_session', 'delegation_edge', 'application')),
  target_id uuid NOT NULL,
  reason text,
  revoked_by text NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (zone_id, target_type, target_id)
);
CREATE INDEX revocations_recent ON revocations (revoked_at);

CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  zone_id uuid NOT NULL REFERENCES zones(id),
  alg text NOT NULL DEFAULT 'ES256' CHECK (alg = 'ES256'),
  public_jwk jsonb NOT NULL,
  private_sealed bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz NOT NULL DEFAULT now(),
  retire_after timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (zone_id) WHERE status = 'active';

CREATE TABLE idempotency_keys (
  zone_id uuid NOT NULL REFERENCES zones(id),
  key_digest text NOT NULL,
  request_digest text NOT NULL,
  response_status integer,
  response_body jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (zone_id, key_digest)
);

-- Transactional outbox (R-STR-5): written with the state change, relayed with FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  zone_id uuid NOT NULL REFERENCES zones(id),
  stream text NOT NULL,
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  dead_at timestamptz,
  last_error text
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE published_at IS NULL AND dead_at IS NULL;

-- Admin tokens are global or zone-scoped, so they are not zone-owned rows; only the api role reads them.
CREATE TABLE admin_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  name text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('global', 'zone')),
  zone_id uuid REFERENCES zones(id),
  capabilities text[] NOT NULL CHECK (capabilities <@ ARRAY['read', 'write', 'approve']::text[] AND cardinality(capabilities) > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  CHECK ((scope = 'zone') = (zone_id IS NOT NULL))
);

-- One installation-wide admin audit chain (R-AUD-5); append-only for every service role.
CREATE TABLE admin_audit_events (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  zone_id uuid,
  target text,
  request_id text,
  detail jsonb NOT NULL DEFAULT '{}',
  content_sha256 text NOT NULL,
  prev_content_sha256 text NOT NULL,
  chain_hmac text NOT NULL
);

CREATE FUNCTION caracal.refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$;

CREATE TRIGGER policy_set_versions_immutable BEFORE UPDATE OR DELETE ON policy_set_versions
  FOR EACH ROW EXECUTE FUNCTION caracal.refuse_change();
CREATE TRIGGER admin_audit_events_append_only BEFORE UPDATE OR DELETE ON admin_audit_events
  FOR EACH ROW EXECUTE FUNCTION caracal.refuse_change();
