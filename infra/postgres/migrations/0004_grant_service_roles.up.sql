-- Least privilege per service role (R-DB-2). Nothing is granted to PUBLIC; each role gets only the verbs its
-- service needs. The audit role may only SELECT and INSERT audit rows: append-only is the database's rule.

REVOKE ALL ON SCHEMA caracal FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE {{database}} FROM PUBLIC;
GRANT CONNECT ON DATABASE {{database}} TO {{role.api}}, {{role.coordinator}}, {{role.sts}}, {{role.gateway}}, {{role.audit}};
GRANT USAGE ON SCHEMA caracal TO {{role.api}}, {{role.coordinator}}, {{role.sts}}, {{role.gateway}}, {{role.audit}};
GRANT EXECUTE ON FUNCTION caracal.current_zone_id() TO {{role.api}}, {{role.coordinator}}, {{role.sts}}, {{role.gateway}}, {{role.audit}};

-- api: the control plane.
GRANT SELECT, INSERT, UPDATE ON zones, applications, policy_sets, admin_tokens TO {{role.api}};
GRANT SELECT, INSERT, UPDATE, DELETE ON resources, grants TO {{role.api}};
GRANT SELECT, INSERT ON policy_set_versions, revocations, admin_audit_events, outbox TO {{role.api}};
GRANT SELECT, UPDATE ON authority_sessions, agent_sessions, delegation_edges, approvals TO {{role.api}};
GRANT SELECT ON audit_events, signing_keys TO {{role.api}};

-- coordinator: agent sessions, delegations, idempotency, outbox relay.
GRANT SELECT ON zones, applications, authority_sessions TO {{role.coordinator}};
GRANT SELECT, INSERT, UPDATE ON agent_sessions, delegation_edges TO {{role.coordinator}};
GRANT SELECT, INSERT ON revocations, admin_audit_events TO {{role.coordinator}};
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys, outbox TO {{role.coordinator}};

-- sts: the sole issuer.
GRANT SELECT ON zones, applications, resources, grants, policy_sets, policy_set_versions,
  agent_sessions, delegation_edges, revocations TO {{role.sts}};
GRANT SELECT, INSERT ON authority_sessions TO {{role.sts}};
GRANT SELECT, INSERT, UPDATE ON approvals, signing_keys TO {{role.sts}};

-- gateway: only the revocation snapshot.
GRANT SELECT ON zones, revocations TO {{role.gateway}};

-- audit: append-only ledger.
GRANT SELECT ON zones TO {{role.audit}};
GRANT SELECT, INSERT ON audit_events TO {{role.audit}};
GRANT EXECUTE ON FUNCTION caracal.audit_ensure_partition(date) TO {{role.audit}};
