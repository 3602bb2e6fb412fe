// The `caracal.sessions.revoke` message of a revocation record (R-STS-6): what the API and the coordinator queue in
// the outbox in the transaction that records the revocation; the gateways add `target_id` to their caches.
export interface AnnouncedRevocation {
  zone_id: string;
  target_type: string;
  target_id: string;
  revoked_at: Date;
}

export function revocationFields(r: AnnouncedRevocation): Record<string, string> {
  return { zone_id: r.zone_id, target_type: r.target_type, target_id: r.target_id, revoked_at: r.revoked_at.toISOString() };
}
