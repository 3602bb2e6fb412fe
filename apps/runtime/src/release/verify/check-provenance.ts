// The provenance: its DSSE signature over PAE(payloadType, payload) checked with node:crypto (DSSE protocol.md),
// then the in-toto statement's subjects against the archive digest and its buildType against ours (R-REL-2).
import { verify } from 'node:crypto';
import { archiveFile, BUILD_TYPE, INTOTO_PAYLOAD_TYPE, MAX_JSON_BYTES, pae, PREDICATE_TYPE, provenanceFile, STATEMENT_TYPE } from '../format.js';
import { CheckFailure, isRecord, listedDigest, parseJson, readArtefact, type ReleaseContext } from './context.js';

// Standard or URL-safe base64: DSSE verifiers must accept either (DSSE protocol.md); Node decodes both.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function checkProvenanceSignature(ctx: ReleaseContext): string {
  const name = provenanceFile(ctx.version!);
  listedDigest(ctx, name);
  const env = parseJson(name, readArtefact(ctx, name, MAX_JSON_BYTES));
  if (!isRecord(env) || env.payloadType !== INTOTO_PAYLOAD_TYPE || typeof env.payload !== 'string' || !BASE64.test(env.payload) || !Array.isArray(env.signatures)) {
    throw new CheckFailure(name, `${name} is not a DSSE envelope with an in-toto payload`);
  }
  const payload = Buffer.from(env.payload, 'base64');
  const signed = pae(INTOTO_PAYLOAD_TYPE, payload);
  const ok = env.signatures.some((s) => isRecord(s) && typeof s.sig === 'string' && BASE64.test(s.sig) && verify('sha256', signed, ctx.key, Buffer.from(s.sig, 'base64')));
  if (!ok) throw new CheckFailure(name, `${name} carries no signature by the trusted key`);
  ctx.statement = parseJson(name, payload);
  return 'DSSE envelope signed by the trusted key';
}

export function checkProvenanceSubjects(ctx: ReleaseContext): string {
  const name = provenanceFile(ctx.version!);
  const archive = archiveFile(ctx.version!);
  const st = ctx.statement;
  if (!isRecord(st) || st._type !== STATEMENT_TYPE || st.predicateType !== PREDICATE_TYPE || !isRecord(st.predicate)) {
    throw new CheckFailure(name, `${name} is not an in-toto Statement v1 with an SLSA Provenance v1 predicate`);
  }
  const def = st.predicate.buildDefinition;
  if (!isRecord(def) || def.buildType !== BUILD_TYPE) throw new CheckFailure(name, `${name} has buildType ${JSON.stringify(isRecord(def) ? def.buildType : undefined)}, not ${BUILD_TYPE}`);
  const subjects = Array.isArray(st.subject) ? st.subject : [];
  const want = listedDigest(ctx, archive);
  const only = subjects.length === 1 && isRecord(subjects[0]) ? subjects[0] : undefined;
  if (!only || only.name !== archive || !isRecord(only.digest) || only.digest.sha256 !== want) {
    throw new CheckFailure(name, `${name} subjects are not exactly ${archive} with sha256 ${want}`);
  }
  return `subject ${archive}, buildType ${BUILD_TYPE}`;
}
