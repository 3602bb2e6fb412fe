// `caracal policy create|upload|list|get|activate|deactivate` (R-POL-3): zone policy sets through the admin API.
// `upload` compiles Rego with the same code as `policy build` (or takes a built bundle) and sends the Rego source,
// the bundle and its SHA-256; the API checks and self-tests it and stores it as the set's next version.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BundleError, readBundle } from '@caracal/policy';
import { adminApi, apiPath } from '../../admin/client.js';
import type { ZoneOpt } from '../../admin/define.js';
import { intIn, matching, zoneRef } from '../../admin/flags.js';
import { col, printList, printRecord, type Field } from '../../admin/render.js';
import { CliError, UsageError } from '../../errors.js';
import type { Io } from '../io.js';

export const POLICY_SET_EXIT_HELP = `
Exit codes:
  0  done (for upload: the version is stored and passed its self-test)
  1  refused or failed: the API refused the request (unknown set or version, bad bundle, a version that failed its
     self-test), the Rego does not compile, the uploaded version failed its self-test, or the API is unreachable
  2  usage error (unknown flag, bad set name, version or --entrypoint, missing path)`;

export interface PolicySet {
  id: string;
  zone_id: string;
  name: string;
  active_version: number | null;
  created_at: string;
  activated_at: string | null;
  versions?: PolicyVersion[];
}

export interface PolicyVersion {
  id: string;
  policy_set_id: string;
  version: number;
  bundle_sha256: string;
  bundle_bytes: number;
  entrypoint: string;
  self_test: { status: 'passed' | 'failed' | null; error: string | null };
  created_at: string;
  created_by: string;
  rego_source?: string;
}

export interface UploadOptions extends ZoneOpt {
  set: string;
  entrypoint?: string;
  /** The Rego a bundle was built from (a bundle holds only stubs of its modules). */
  source?: string;
}

/** Compiles Rego into a bundle file: `caracal policy build` itself, passed in so this module does not import it. */
export type Build = (target: string, opts: { entrypoint?: string; out: string }) => Promise<{ bundle: string }>;

const setRef = (flag: string) => matching(flag, /^[a-z0-9][a-z0-9._-]{0,63}$/, 'a policy set name (lowercase letters, digits, ".", "_", "-"; at most 64) or id');
const setName = setRef('<set>');
const versionArg = intIn('<version>', 1, 999_999_999);

const SET_FIELDS: ReadonlyArray<Field<PolicySet>> = [col('name'), col('active_version'), col('activated_at'), col('id'), col('created_at')];
const VERSION_FIELDS: ReadonlyArray<Field<PolicyVersion>> = [
  col('version'),
  col('entrypoint'),
  col('bundle_sha256'),
  col('bundle_bytes'),
  ['self_test', (v) => v.self_test.status],
  ['self_test_error', (v) => v.self_test.error],
  col('created_by'),
  col('created_at'),
];
const VERSION_ROW: ReadonlyArray<Field<PolicyVersion>> = [col('version'), col('entrypoint'), ['self_test', (v) => v.self_test.status], col('bundle_sha256'), col('created_at')];

const sets = (zone: string) => apiPath`/v1/zones/${zone}/policy-sets`;
const oneSet = (zone: string, set: string) => apiPath`/v1/zones/${zone}/policy-sets/${set}`;

/** The Rego files as one text: a single file as it is, several each under a `# file:` line. */
function joinSources(files: Array<[name: string, text: string]>): string {
  if (files.length === 1) return files[0]![1];
  return files.map(([name, text]) => `# file: ${name}\n${text}`).join('\n');
}

function regoOnDisk(target: string): string {
  if (!statSync(target).isDirectory()) return readFileSync(target, 'utf8');
  const names = readdirSync(target, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.rego')).sort();
  return joinSources(names.map((n) => [n, readFileSync(join(target, n), 'utf8')]));
}

const isBundle = (path: string) => /\.(tar\.gz|tgz)$/.test(path);

function statOrUsage(target: string, flag: string): void {
  try {
    statSync(target);
  } catch {
    throw new UsageError(`${flag} ${target} does not exist`, 'name a directory of .rego files, one .rego file, or a bundle built with `caracal policy build`');
  }
}

/** The bytes to upload, their Rego source and entrypoint: built from Rego with opa, or read from a built bundle. */
async function prepare(target: string, opts: UploadOptions, build: Build): Promise<{ bytes: Buffer; source: string; entrypoint: string }> {
  statOrUsage(target, '<path>');
  if (isBundle(target)) {
    // A wasm bundle holds only stubs of the modules it was compiled from: the source comes from --source.
    if (opts.source === undefined) throw new UsageError('uploading a bundle needs --source <dir|file.rego>: the Rego it was built from');
    statOrUsage(opts.source, '--source');
    const bytes = readFileSync(target);
    let bundle;
    try {
      bundle = readBundle(bytes);
    } catch (e) {
      if (e instanceof BundleError) throw new CliError(`${target} is not a policy bundle: ${e.message}`);
      throw e;
    }
    const entrypoint = opts.entrypoint ?? (bundle.entrypoints.length === 1 ? bundle.entrypoints[0]! : 'caracal/allow');
    return { bytes, source: regoOnDisk(opts.source), entrypoint };
  }
  const work = mkdtempSync(join(tmpdir(), 'caracal-upload-'));
  try {
    const built = await build(target, { entrypoint: opts.entrypoint, out: join(work, 'bundle.tar.gz') });
    return { bytes: readFileSync(built.bundle), source: regoOnDisk(target), entrypoint: opts.entrypoint ?? 'caracal/allow' };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function runPolicyUpload(target: string, opts: UploadOptions, io: Io, build: Build): Promise<PolicyVersion> {
  const { bytes, source, entrypoint } = await prepare(target, opts, build);
  const body = { rego_source: source, bundle: bytes.toString('base64'), bundle_sha256: createHash('sha256').update(bytes).digest('hex'), entrypoint };
  return adminApi(io).call<PolicyVersion>('POST', apiPath`/v1/zones/${opts.zone}/policy-sets/${opts.set}/versions`, body, { timeoutMs: 60_000 });
}

export const runPolicyCreate = (zone: string, name: string, io: Io) => adminApi(io).call<PolicySet>('POST', sets(zone), { name });
export const runPolicyList = (zone: string, io: Io) => adminApi(io).call<{ items: PolicySet[] }>('GET', sets(zone));
export const runPolicyGet = (zone: string, set: string, io: Io) => adminApi(io).call<PolicySet>('GET', oneSet(zone, set));
export const runPolicyGetVersion = (zone: string, set: string, version: number, io: Io) =>
  adminApi(io).call<PolicyVersion>('GET', apiPath`/v1/zones/${zone}/policy-sets/${set}/versions/${String(version)}`);
export const runPolicyActivate = (zone: string, set: string, version: number, io: Io) => adminApi(io).call<PolicySet>('POST', apiPath`/v1/zones/${zone}/policy-sets/${set}/activate`, { version });
export const runPolicyDeactivate = (zone: string, set: string, io: Io) => adminApi(io).call<PolicySet>('POST', apiPath`/v1/zones/${zone}/policy-sets/${set}/deactivate`, {});

function printUpload(io: Io, json: boolean | undefined, v: PolicyVersion): void {
  printRecord(io, json, v, VERSION_FIELDS);
  if (v.self_test.status !== 'passed') {
    throw new CliError(`version ${v.version} is stored but failed its self-test and cannot be activated: ${v.self_test.error ?? 'no result'}`, 1, 'fix the policy and upload it again (a new version)');
  }
}

function printVersion(io: Io, json: boolean | undefined, v: PolicyVersion): void {
  printRecord(io, json, v, VERSION_FIELDS);
  if (!json && v.rego_source !== undefined) io.out.data(`\n${v.rego_source}`);
}

function printSet(io: Io, json: boolean | undefined, s: PolicySet): void {
  if (json) return io.out.json(s);
  printRecord(io, json, s, SET_FIELDS);
  io.out.data('');
  printList(io, false, { items: s.versions ?? [] }, VERSION_ROW);
}

/** Adds the policy-set subcommands to `caracal policy`. */
export function registerPolicySetCommands(policy: Command, io: Io, build: Build, entrypointFlag: (v: string) => string): void {
  const sub = (name: string, description: string) =>
    policy.command(name).description(description).option('--json', "print the API's JSON").requiredOption('--zone <zone>', 'zone id or slug', zoneRef).addHelpText('after', POLICY_SET_EXIT_HELP);
  sub('create', 'create a policy set in a zone (it holds no version and is inactive until a version is activated)')
    .argument('<set>', 'set name', setName)
    .action(async (name: string, opts: ZoneOpt) => printRecord(io, opts.json, await runPolicyCreate(opts.zone, name, io), SET_FIELDS));
  sub('upload', 'upload a new version of a set: Rego is compiled with opa first (as `policy build`), a bundle is sent as it is; the API verifies the SHA-256, loads the bundle and self-tests it')
    .argument('<path>', 'a directory of .rego files or one .rego file (compiled with opa; their text is the source), or a bundle (.tar.gz) from `caracal policy build` (with --source)')
    .requiredOption('--set <set>', 'set name or id', setRef('--set'))
    .option('--source <path>', 'with a bundle: the directory or .rego file it was built from, stored as the version\'s source')
    .option('--entrypoint <rule>', "rule the policy exports (default caracal/allow; for a bundle, its only entrypoint)", entrypointFlag)
    .action(async (target: string, opts: UploadOptions) => printUpload(io, opts.json, await runPolicyUpload(target, opts, io, build)));
  sub('list', 'list the zone\'s policy sets and their active versions').action(async (opts: ZoneOpt) => printList(io, opts.json, await runPolicyList(opts.zone, io), SET_FIELDS));
  sub('get', 'show a set and its versions, or one version with its Rego source (never the bundle bytes)')
    .argument('<set>', 'set name or id', setName)
    .argument('[version]', 'show this version with its Rego source', versionArg)
    .action(async (set: string, version: number | undefined, opts: ZoneOpt) =>
      version === undefined ? printSet(io, opts.json, await runPolicyGet(opts.zone, set, io)) : printVersion(io, opts.json, await runPolicyGetVersion(opts.zone, set, version, io)),
    );
  sub('activate', 'make a version the active one of its set (audited; every STS reloads); a version that failed its self-test is refused')
    .argument('<set>', 'set name or id', setName)
    .argument('<version>', 'the version to activate', versionArg)
    .action(async (set: string, version: number, opts: ZoneOpt) => printRecord(io, opts.json, await runPolicyActivate(opts.zone, set, version, io), SET_FIELDS));
  sub('deactivate', 'stop evaluating a set (audited; every STS reloads); its versions stay stored')
    .argument('<set>', 'set name or id', setName)
    .action(async (set: string, opts: ZoneOpt) => printRecord(io, opts.json, await runPolicyDeactivate(opts.zone, set, io), SET_FIELDS));
}
