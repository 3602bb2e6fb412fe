// The shape every evidence check shares (R-EVD-1): a named check runs against the installation and returns its
// status, the reason, and the raw output it read, each piece with the exact query or command that produced it.
import type { Pool } from '@caracal/db';
import type { Redis } from 'ioredis';
import type { HomeLayout } from '../home/paths.js';
import type { StackSettings } from '../home/settings.js';

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIPPED';

/** One piece of raw evidence: written to `raw/<check id>/<name>` with the command that produced it. */
export interface RawOutput {
  /** File name under the check's raw directory: `[a-z0-9][a-z0-9._-]*`, e.g. `rls.json`. */
  name: string;
  /** The exact SQL query, Redis command, HTTP request or shell command that produced `output`. */
  command: string;
  /** JSON-serialisable value or text, as read. */
  output: unknown;
}

export interface CheckOutcome {
  status: CheckStatus;
  /** Why it passed, failed or was skipped; a FAIL names the table, role, zone and seq, file or service at fault. */
  reason: string;
  raw: RawOutput[];
}

/** Each zone's chain head and the admin-audit chain head, as the audit-chains check read them (signed into the manifest). */
export interface ChainHeads {
  zones: Record<string, { seq: number; content_sha256: string; head_sig: string | null }>;
  admin: { seq: number; content_sha256: string } | null;
}

/** A dependency the checks read: reachable, or the reason it is not (checks that need it are SKIPPED with it). */
export type Dependency<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface EvidenceContext {
  home: HomeLayout;
  settings: StackSettings;
  /** The install root the CLI runs from (a checkout or `versions/<v>`). */
  root: string;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** The migration (owner) connection; every session is `default_transaction_read_only`: the pack writes nothing. */
  db: Dependency<Pool>;
  redis: Dependency<Redis>;
  /** The previous pack given with `--previous`, already verified, or null. */
  previous: { path: string; generatedAt: string; heads: ChainHeads } | null;
}

export interface CheckDefinition {
  /** Stable id, `[a-z0-9-]+`; also the raw directory name. */
  id: string;
  pillar: 'Provenance' | 'Schema' | 'Isolation' | 'Runtime' | 'Audit' | 'Configuration' | 'Keys' | 'Governance';
  title: string;
  /** What is checked and why it matters, one or two sentences for REPORT.md. */
  what: string;
  /** The control ids it supports (see controls.ts), e.g. `ASI03`, `SOC2-CC6.1`, `R3`, `EU-AIA-12`, `NIST-MEASURE`. */
  controls: readonly string[];
  /** The command line or query summary recorded in the manifest for this check. */
  command: string;
  /** Set only by the audit-chains check: the heads it read. */
  run: (ctx: EvidenceContext) => Promise<CheckOutcome & { heads?: ChainHeads }>;
}
