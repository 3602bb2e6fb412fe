// REPORT.md of an evidence pack (R-EVD-1): metadata, the summary table with a link to each check's raw evidence,
// one section per check, the control mapping, and the non-claims. Plain Markdown, a pure function of its input.
import { controlMapping } from './controls.js';
import { JUNIT_PATH, MANIFEST_NAME, PUBLIC_KEY_NAME, SIGNATURE_NAME, THREAT_MODEL_NAME, type PackMeta } from './manifest.js';
import type { CheckResult } from './run.js';

export interface ReportInput {
  meta: PackMeta;
  results: readonly CheckResult[];
  previous: { path: string; generated_at: string } | null;
  threatModel: boolean;
}

/** A table cell: one line, no column break. */
const cell = (s: string) => s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
/** Inline code that survives backticks in the text. */
const code = (s: string) => {
  const fence = '`'.repeat(Math.max(1, ...[...s.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence}${fence.length > 1 ? ' ' : ''}${s}${fence.length > 1 ? ' ' : ''}${fence}`;
};

function metadata({ meta, previous, threatModel }: ReportInput): string[] {
  return [
    '| | |',
    '|---|---|',
    `| Generated at | ${meta.generated_at} |`,
    `| Caracal version | ${cell(meta.version)} |`,
    `| Git commit | ${meta.git_sha ?? 'unknown (not a git checkout)'} |`,
    `| Host | ${cell(meta.host)} |`,
    `| Run by | ${cell(meta.operator.user)} (uid ${meta.operator.uid ?? 'unknown'}) |`,
    `| Evidence key fingerprint | ${meta.key_fingerprint} (SHA-256 of the public key in ${PUBLIC_KEY_NAME}) |`,
    `| Previous pack | ${previous ? `${cell(previous.path)}, generated at ${previous.generated_at}` : 'none given'} |`,
    `| Threat model | ${threatModel ? `copied as [${THREAT_MODEL_NAME}](${THREAT_MODEL_NAME})` : 'not present in the install root'} |`,
  ];
}

function section(r: CheckResult): string[] {
  const raw = r.raw.map((o) => `- [raw/${r.id}/${o.name}](raw/${r.id}/${o.name}): ${code(o.command.replace(/\s+/g, ' ').trim())}`);
  return [
    `### ${r.id}: ${r.title}`,
    '',
    r.what,
    '',
    `- Pillar: ${r.pillar}`,
    `- Status: **${r.status}**`,
    `- Reason: ${r.reason.replace(/\r?\n/g, ' ')}`,
    `- Command: ${code(r.command)}`,
    `- Started: ${r.started_at}; ended: ${r.ended_at}`,
    `- Controls: ${r.controls.length ? r.controls.join(', ') : 'none'}`,
    ...(raw.length ? ['- Raw evidence:', ...raw.map((l) => `  ${l}`)] : ['- Raw evidence: none recorded']),
    '',
  ];
}

export function renderReport(input: ReportInput): string {
  const { results } = input;
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  const summary = results.map((r) => `| ${r.pillar} | ${r.id} | ${r.status} | ${r.raw.length ? `[raw/${r.id}/](raw/${r.id}/)` : 'none'} |`);
  const mapping = controlMapping(results).map(({ control, checks }) => `| ${control.id} | ${cell(control.framework)}: ${cell(control.title)} | ${checks.length ? checks.join(', ') : 'no check in this pack'} |`);
  return [
    '# Caracal evidence pack',
    '',
    ...metadata(input),
    '',
    '## Summary',
    '',
    `${results.length} checks: ${count('PASS')} PASS, ${count('FAIL')} FAIL, ${count('SKIPPED')} SKIPPED. Every file of this pack is listed with its SHA-256 in ${MANIFEST_NAME}, signed in ${SIGNATURE_NAME}; run \`caracal evidence-pack verify <this pack> --key <public key>\` with this installation's evidence public key, obtained apart from the pack (the copy in ${PUBLIC_KEY_NAME} must have the fingerprint above), to check it offline. JUnit results: [${JUNIT_PATH}](${JUNIT_PATH}).`,
    '',
    '| Pillar | Check | Status | Evidence |',
    '|---|---|---|---|',
    ...summary,
    '',
    '## Checks',
    '',
    ...results.flatMap(section),
    '## Control mapping',
    '',
    'Which checks of this pack support each control. A check supports a control; it does not by itself satisfy it.',
    '',
    '| Control | Title | Checks |',
    '|---|---|---|',
    ...mapping,
    '',
    '## Non-claims',
    '',
    '- No certification, attestation or compliance with any framework listed above is claimed or implied by this pack.',
    '- The checks read the installation at the time given above; they say nothing about any other time or installation.',
    '- A SKIPPED check was not performed; its reason says why.',
    '- The signature proves the pack is unchanged since it was signed with this installation\'s evidence key; it does not prove who holds that key.',
    '',
  ].join('\n');
}
