// `raw/checks.junit.xml` (R-EVD-1): one testsuite, one testcase per check, so CI systems ingest the results; a FAIL
// carries its reason as the failure message and a SKIPPED its reason as the skip message.
import type { CheckResult } from './run.js';

const XML_UNSAFE = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Attribute-safe text; control characters XML 1.0 cannot carry become U+FFFD. */
export const xmlEscape = (s: string) => s.replace(XML_UNSAFE, (c) => ENTITY[c] ?? '\ufffd');

const seconds = (r: CheckResult) => Math.max(0, (Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000).toFixed(3);

export function renderJunit(results: readonly CheckResult[], generatedAt: string): string {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  const total = results.reduce((sum, r) => sum + Number(seconds(r)), 0).toFixed(3);
  const cases = results.map((r) => {
    const open = `    <testcase classname="caracal.evidence.${xmlEscape(r.pillar)}" name="${xmlEscape(r.id)}" time="${seconds(r)}"`;
    if (r.status === 'FAIL') return `${open}>\n      <failure message="${xmlEscape(r.reason)}"/>\n    </testcase>`;
    if (r.status === 'SKIPPED') return `${open}>\n      <skipped message="${xmlEscape(r.reason)}"/>\n    </testcase>`;
    return `${open}/>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="caracal evidence-pack" tests="${results.length}" failures="${count('FAIL')}" skipped="${count('SKIPPED')}" time="${total}">`,
    `  <testsuite name="caracal evidence-pack" tests="${results.length}" failures="${count('FAIL')}" errors="0" skipped="${count('SKIPPED')}" timestamp="${xmlEscape(generatedAt)}" time="${total}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
