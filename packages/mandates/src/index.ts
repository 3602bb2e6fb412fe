// Mandates: claims, ES256 signing with UUIDv7 ids, and verification with named failure reasons.
export { MANDATE_ALG, MANDATE_TYP, MAX_TOKEN_BYTES, UUID, lineageIds, nestedActor, scopesOf, type Actor, type MandateClaims, type MandateUse } from './claims.js';
export { signMandate, uuidv7, type MandateInput, type SignedMandate } from './sign.js';
export { verifyMandate, type KeyResolver, type VerifiedSignatures, type VerifyFailure, type VerifyOptions, type VerifyResult } from './verify.js';
export { createZoneKey, openZoneKey, publicKeyOf, type NewZoneKey, type PublicJwk } from './zone-key.js';
export { decodeCompact, signCompact, toLowS, verifyEs256, type DecodedJws, type JwsHeader } from './jws.js';
