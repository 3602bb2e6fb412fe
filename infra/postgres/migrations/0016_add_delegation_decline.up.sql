-- Delegation edges at the coordinator (R-CO-1): the receiving application may decline a pending edge. A declined
-- edge is also revoked, so every reader that honours only unrevoked, accepted edges (the STS, cycle checks, session
-- end) treats it as dead without knowing about declines; declined_at records why. Nullable without a default: no
-- table rewrite, and the running release never writes it.
ALTER TABLE delegation_edges ADD COLUMN declined_at timestamptz
  CONSTRAINT delegation_edges_declined_pending CHECK (declined_at IS NULL OR (accepted_at IS NULL AND revoked_at IS NOT NULL));
