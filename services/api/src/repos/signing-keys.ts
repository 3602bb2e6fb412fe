// Signing-key rotation: the active key becomes `previous` (still verifying until the overlap ends), the new one
// becomes active, in one transaction under a row lock.
import type { PoolClient } from '@caracal/db';
import type { NewZoneKey } from '@caracal/mandates';

export interface RotationResult {
  kid: string;
  previous_kid: string | null;
  previous_valid_until: string | null;
}

export async function rotateZoneKey(client: PoolClient, zoneId: string, next: NewZoneKey, overlapSeconds: number): Promise<RotationResult> {
  const current = await client.query<{ kid: string }>("SELECT kid FROM signing_keys WHERE zone_id = $1 AND status = 'active' FOR UPDATE", [zoneId]);
  const previous = current.rows[0]?.kid ?? null;
  let validUntil: string | null = null;
  // Keys retired by an earlier rotation stop verifying now: at most two keys are ever published.
  await client.query("UPDATE signing_keys SET status = 'retired', retire_after = LEAST(retire_after, now()) WHERE zone_id = $1 AND status = 'previous'", [zoneId]);
  if (previous) {
    const res = await client.query<{ retire_after: Date }>(
      "UPDATE signing_keys SET status = 'previous', retire_after = now() + make_interval(secs => $2) WHERE kid = $1 RETURNING retire_after",
      [previous, overlapSeconds],
    );
    validUntil = res.rows[0]!.retire_after.toISOString();
  }
  await client.query("INSERT INTO signing_keys (kid, zone_id, public_jwk, private_sealed, status) VALUES ($1, $2, $3, $4, 'active')", [
    next.kid,
    zoneId,
    JSON.stringify(next.publicJwk),
    next.privateSealed,
  ]);
  return { kid: next.kid, previous_kid: previous, previous_valid_until: validUntil };
}
