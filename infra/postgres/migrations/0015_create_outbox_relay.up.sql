-- The outbox relay (R-STR-5): the api and the coordinator each run one. Rows are written in the same transaction as
-- the change they announce and published by any relay; the outbox table itself exists since 0001.

-- The api relays what it writes, so it marks rows published, retried or dead (status columns only) and prunes
-- published rows past their retention, as the coordinator's relay already may.
GRANT UPDATE (attempts, next_attempt_at, published_at, dead_at, last_error) ON outbox TO {{role.api}};
GRANT DELETE ON outbox TO {{role.api}};

-- A relay reads one zone at a time (RLS binds it to the zone): due rows oldest first, and the backlog's oldest row.
CREATE INDEX outbox_zone_pending ON outbox (zone_id, created_at) WHERE published_at IS NULL AND dead_at IS NULL;
-- Published rows are pruned by age.
CREATE INDEX outbox_zone_published ON outbox (zone_id, published_at) WHERE published_at IS NOT NULL;
