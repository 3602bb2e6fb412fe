// Checks an uploaded policy bundle before it is stored (R-POL-3): the declared SHA-256 matches the bytes, the bytes
// are an `opa build -t wasm` bundle whose module loads in the engine the STS evaluates with (explicit memory
// maximum), the declared entrypoint exists, and one evaluation on a fixed sample input succeeds (the self-test).
// What cannot be loaded is refused (400); what loads but fails its evaluation is stored as failed and cannot be
// activated.
import { createHash } from 'node:crypto';
import { BundleError, loadPolicyModule, PolicyLoadError, readBundle, type PolicyModule } from '@caracal/policy';
import { InvalidRequest } from '@caracal/service-kit';

/** Largest compressed bundle accepted (the wasm runtime alone is ~130 KiB). */
export const MAX_UPLOAD_BUNDLE_BYTES = 4 * 1024 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface SelfTest {
  status: 'passed' | 'failed';
  error: string | null;
}

/** An input of the R-POL-1 shape with fixed values: the same for every upload, so the self-test is repeatable. */
export function sampleInput(zoneId: string): Record<string, unknown> {
  return {
    schema_version: 1,
    principal: { type: 'application', id: '00000000-0000-4000-8000-000000000001', zone_id: zoneId, agent_session_id: null, labels: [] },
    resource: { id: '00000000-0000-4000-8000-000000000002', identifier: 'resource://self-test', scopes: ['self-test:read'] },
    action: { id: 'self-test', method: 'GET', path: '/' },
    session: null,
    delegation_edge: null,
    context: { requested_scopes: ['self-test:read'], request_id: 'self-test', now: '2026-01-01T00:00:00Z' },
  };
}

export function decodeBundle(base64: string, declaredSha256: string): Buffer {
  if (base64.length % 4 !== 0 || !BASE64.test(base64)) throw new InvalidRequest('bundle must be the bundle file in standard base64');
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new InvalidRequest('bundle is empty');
  if (bytes.length > MAX_UPLOAD_BUNDLE_BYTES) throw new InvalidRequest(`bundle is larger than ${MAX_UPLOAD_BUNDLE_BYTES} bytes`);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== declaredSha256) throw new InvalidRequest(`bundle_sha256 does not match the bundle: its bytes hash to ${actual}`);
  return bytes;
}

function bundleData(files: Map<string, Buffer>): object {
  const raw = files.get('data.json');
  if (!raw) return {};
  try {
    const data: unknown = JSON.parse(raw.toString('utf8'));
    if (data && typeof data === 'object' && !Array.isArray(data)) return data;
  } catch {
    // reported below
  }
  throw new InvalidRequest('the bundle data.json is not a JSON object');
}

async function load(bytes: Buffer, entrypoint: string): Promise<{ module: PolicyModule; data: object }> {
  try {
    const bundle = readBundle(bytes);
    if (!bundle.entrypoints.includes(entrypoint)) {
      throw new InvalidRequest(`the bundle has no entrypoint '${entrypoint}' (it declares ${bundle.entrypoints.join(', ')}); build it with \`opa build -t wasm -e ${entrypoint}\``);
    }
    const data = bundleData(bundle.files);
    const module = await loadPolicyModule(bundle.wasm);
    if (!module.entrypoints.includes(entrypoint)) throw new InvalidRequest(`the bundle's policy.wasm exports no entrypoint '${entrypoint}'`);
    return { module, data };
  } catch (e) {
    if (e instanceof BundleError) throw new InvalidRequest(`not an OPA wasm bundle: ${e.message}`);
    if (e instanceof PolicyLoadError) throw new InvalidRequest(`the bundle's policy.wasm is not an OPA-ABI module: ${e.message}`);
    throw e;
  }
}

/** Loads the bundle (refusing what is not one) and evaluates the entrypoint once on the sample input. */
export async function selfTest(bytes: Buffer, entrypoint: string, zoneId: string): Promise<SelfTest> {
  const { module, data } = await load(bytes, entrypoint);
  try {
    module.setData(data);
    module.evaluate(sampleInput(zoneId), entrypoint);
    return { status: 'passed', error: null };
  } catch (e) {
    return { status: 'failed', error: (e instanceof Error ? e.message : String(e)).slice(0, 500) };
  }
}
