-- Step-up (R-STS-5): a grant may mark some of its scopes as approval-gated. Minting them needs an approval an
-- approver granted, consumed exactly once.

ALTER TABLE grants ADD COLUMN approval_scopes text[] NOT NULL DEFAULT '{}';
ALTER TABLE grants ADD CONSTRAINT grants_approval_scopes_granted CHECK (approval_scopes <@ scopes);
CREATE INDEX approvals_pending ON approvals (zone_id, status, requested_at) WHERE status IN ('pending', 'approved');
