// The platform zone (migration 0010): events with no verified zone are filed here, never in a zone a request
// merely claims. Fixed id, so producers need no lookup.
export const PLATFORM_ZONE_ID = '00000000-0000-0000-0000-000000000000';
export const PLATFORM_ZONE_SLUG = 'caracal-platform';
