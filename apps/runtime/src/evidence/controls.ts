// The control catalogue an evidence pack maps its checks to (R-EVD-1): each id a check may cite, with its title and
// the framework it comes from. REPORT.md lists every control, so one no check supports shows as such.

export interface Control {
  id: string;
  framework: string;
  title: string;
}

const OWASP = 'OWASP Top 10 for Agentic Applications';
const SOC2 = 'SOC 2 Trust Services Criteria';
const AUTHORITY = 'Caracal agentic authority controls';
const EU = 'EU AI Act';
const NIST = 'NIST AI RMF';

export const CONTROLS: readonly Control[] = [
  { id: 'ASI03', framework: OWASP, title: 'Identity and Privilege Abuse' },
  { id: 'ASI08', framework: OWASP, title: 'Cascading Failures' },
  { id: 'ASI09', framework: OWASP, title: 'Human-Agent Trust Exploitation' },
  { id: 'SOC2-CC6', framework: SOC2, title: 'Logical and physical access controls' },
  { id: 'SOC2-CC7', framework: SOC2, title: 'System operations and monitoring' },
  { id: 'SOC2-CC8', framework: SOC2, title: 'Change management' },
  { id: 'SOC2-PI1', framework: SOC2, title: 'Processing integrity' },
  { id: 'R1', framework: AUTHORITY, title: 'Agents hold no upstream credential' },
  { id: 'R2', framework: AUTHORITY, title: 'Short-lived, signed, audience-bound mandates' },
  { id: 'R3', framework: AUTHORITY, title: 'Least privilege, deny by default (mandate within grant)' },
  { id: 'R4', framework: AUTHORITY, title: 'Delegation only narrows' },
  { id: 'R5', framework: AUTHORITY, title: 'Revocation reaches every instance promptly' },
  { id: 'R6', framework: AUTHORITY, title: 'Every decision in a tamper-evident ledger' },
  { id: 'R7', framework: AUTHORITY, title: 'Zone isolation enforced by the database' },
  { id: 'R8', framework: AUTHORITY, title: 'Operator secrets protected, never in logs, argv or responses' },
  { id: 'R9', framework: AUTHORITY, title: 'Verifiable releases and safe schema change' },
  { id: 'EU-AIA-12', framework: EU, title: 'Article 12: record-keeping' },
  { id: 'EU-AIA-14', framework: EU, title: 'Article 14: human oversight' },
  { id: 'EU-AIA-15', framework: EU, title: 'Article 15: accuracy, robustness and cybersecurity' },
  { id: 'NIST-GOVERN', framework: NIST, title: 'Govern' },
  { id: 'NIST-MAP', framework: NIST, title: 'Map' },
  { id: 'NIST-MEASURE', framework: NIST, title: 'Measure' },
  { id: 'NIST-MANAGE', framework: NIST, title: 'Manage' },
];

/** The catalogue control a cited id supports: the id itself or its parent (`SOC2-CC6.1` supports `SOC2-CC6`). */
export function controlOf(cited: string): Control | undefined {
  return CONTROLS.find((c) => c.id === cited || cited.startsWith(`${c.id}.`));
}

/** Each control with the checks that cite it (in check order), then any cited id the catalogue does not hold. */
export function controlMapping(checks: ReadonlyArray<{ id: string; controls: readonly string[] }>): Array<{ control: Control; checks: string[] }> {
  const rows = CONTROLS.map((control) => ({ control, checks: checks.filter((k) => k.controls.some((c) => controlOf(c) === control)).map((k) => k.id) }));
  const unknown = [...new Set(checks.flatMap((k) => k.controls.filter((c) => !controlOf(c))))].sort();
  for (const id of unknown) rows.push({ control: { id, framework: 'not in the catalogue', title: id }, checks: checks.filter((k) => k.controls.includes(id)).map((k) => k.id) });
  return rows;
}
