-- Session mandates at the coordinator (R-CO-1): the coordinator verifies a caller's ES256 mandate against its
-- zone's public keys, so it may read the public half of the signing keys, never the sealed private half.
GRANT SELECT (zone_id, kid, status, public_jwk, retire_after) ON signing_keys TO {{role.coordinator}};

-- Children are counted under their parent's row lock (fan-out limit) and walked by parent (subtree end, tree).
CREATE INDEX agent_sessions_parent ON agent_sessions (zone_id, parent_id) WHERE parent_id IS NOT NULL;
