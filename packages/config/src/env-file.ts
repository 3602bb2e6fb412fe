// Parses `caracal.env` (KEY=value lines); reports every malformed line with its number.

export interface EnvFileResult {
  values: Record<string, string>;
  problems: string[];
}

const LINE = /^([A-Z][A-Z0-9_]*)=(.*)$/;

export function parseEnvFile(text: string, label: string): EnvFileResult {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  if (text.includes('\u0000')) return { values, problems: [`${label}: contains a NUL byte`] };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (!m) {
      problems.push(`${label}:${i + 1}: expected KEY=value`);
      return;
    }
    const [, key, rawValue] = m as unknown as [string, string, string];
    if (key in values) problems.push(`${label}:${i + 1}: ${key} is set twice`);
    values[key] = unquote(rawValue.trim());
  });
  return { values, problems };
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}
