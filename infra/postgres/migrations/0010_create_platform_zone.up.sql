-- The platform zone: where events that belong to no verified zone are filed (a denial before any signature was
-- checked, a failed authentication of an unknown client). A request can claim any zone id; filing its denial in
-- the claimed zone would let anyone append to any zone's ledger, so such events go here instead.
-- The id is fixed (the nil UUID) so every service names it without a lookup; nothing else lives in this zone.
INSERT INTO zones (id, slug, name)
VALUES ('00000000-0000-0000-0000-000000000000', 'caracal-platform', 'Caracal platform (unverified requests)')
ON CONFLICT (id) DO NOTHING;
