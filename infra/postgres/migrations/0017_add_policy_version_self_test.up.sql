-- Zone policy set versions (R-POL-3): the api evaluates every uploaded bundle once on a fixed sample input before
-- storing it, and records the outcome so a version that failed cannot be activated. NULL means the row was written
-- without that check (not through the api). Nullable without a default: no table rewrite, and the running release
-- never writes it.
ALTER TABLE policy_set_versions ADD COLUMN self_test_status text
  CONSTRAINT policy_set_versions_self_test_status CHECK (self_test_status IN ('passed', 'failed'));
ALTER TABLE policy_set_versions ADD COLUMN self_test_error text
  CONSTRAINT policy_set_versions_self_test_error CHECK (self_test_error IS NULL OR self_test_status = 'failed');
