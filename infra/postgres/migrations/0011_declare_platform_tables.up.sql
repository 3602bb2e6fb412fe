-- admin_tokens and admin_audit_events carry a zone_id but are platform tables by design, not zone-owned rows, so
-- they stay outside row-level security; the schema says so and every catalog check names them with this reason.
--
-- Why not forced RLS with a zone_isolation policy:
--   * admin_tokens is read to authenticate a request before any zone is known (the token decides the zone), and
--     holds global tokens (zone_id NULL) that no zone policy could ever match. Forcing RLS would only move the
--     same read into a SECURITY DEFINER function that bypasses the policy, adding a privileged code path without
--     narrowing who can read: only the api role has any privilege on this table (0004), and it stores SHA-256
--     digests of the tokens, never the tokens.
--   * admin_audit_events is ONE installation-wide hash chain (R-AUD-5): each row links to the previous row whatever
--     its zone, so a per-zone view could neither append (it needs the global head) nor verify (it needs every
--     row). Splitting it per zone would weaken the evidence, not strengthen it. It stays append-only for every
--     role (trigger admin_audit_events_append_only) and only the api and coordinator roles may insert.
--
-- detail_text keeps the exact JSON text the row's content hash covers: jsonb reorders keys, so the hashed form
-- cannot be rebuilt from `detail` once it holds more than one key. Rows written before it fall back to `detail`.
COMMENT ON TABLE admin_tokens IS
  'Platform table by design: admin tokens are resolved before any zone is known and may be global (zone_id NULL); outside RLS, api role only (migration 0011).';
COMMENT ON TABLE admin_audit_events IS
  'Platform table by design: one installation-wide hash chain across all zones (R-AUD-5); outside RLS, append-only (migration 0011).';

ALTER TABLE admin_audit_events ADD COLUMN detail_text text;
