-- Key rotation is an admin operation (R-STS-2): the api role may create a zone's next signing key and retire the
-- current one. Revocation lookups by target id (R-STS-6, R-GW-1) get an index of their own.

GRANT INSERT, UPDATE ON signing_keys TO {{role.api}};
CREATE INDEX revocations_target ON revocations (zone_id, target_id);
CREATE INDEX grants_lookup ON grants (zone_id, application_id, resource_id) WHERE revoked_at IS NULL;
