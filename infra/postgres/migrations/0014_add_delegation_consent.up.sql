-- Delegation edges at the coordinator (R-CO-1): an edge to another application's session waits for that
-- application's accept, so the edge records when it was accepted (NULL: pending). Nullable without a default:
-- no table rewrite, and the running release never writes it.
ALTER TABLE delegation_edges ADD COLUMN accepted_at timestamptz;

-- A root edge's scopes are bounded by what the source's application is granted: the coordinator reads the scope
-- columns of the grants, nothing else of them.
GRANT SELECT (zone_id, application_id, scopes, revoked_at) ON grants TO {{role.coordinator}};

-- Edges are walked by parent (revoke, traverse), by path (descendants) and by either session (list, session end).
CREATE INDEX delegation_edges_parent ON delegation_edges (zone_id, parent_edge_id) WHERE parent_edge_id IS NOT NULL;
CREATE INDEX delegation_edges_path ON delegation_edges USING gin (path);
CREATE INDEX delegation_edges_source ON delegation_edges (zone_id, source_session_id);
CREATE INDEX delegation_edges_target ON delegation_edges (zone_id, target_session_id);
