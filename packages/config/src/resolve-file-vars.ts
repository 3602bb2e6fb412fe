// Resolves `X_FILE` into `X` for every key that may come from a file; both set is an error (R-SHAPE-4).
import { readSecretFile } from './read-secret-file.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ResolvedEnv {
  env: Record<string, string | undefined>;
  /** Where each file-backed key came from, so later problems can name the file instead of the value. */
  sources: Record<string, string>;
  problems: string[];
  /** Keys whose file could not be used; already reported in `problems`. */
  failedKeys: Set<string>;
}

export function resolveFileVars(env: Env, fileKeys: readonly string[]): ResolvedEnv {
  const out: Record<string, string | undefined> = { ...env };
  const sources: Record<string, string> = {};
  const problems: string[] = [];
  const failedKeys = new Set<string>();
  for (const key of fileKeys) {
    const direct = env[key];
    const file = env[`${key}_FILE`];
    if (file !== undefined && file !== '') {
      if (direct !== undefined && direct !== '') {
        problems.push(`${key} and ${key}_FILE are both set; set only one`);
        failedKeys.add(key);
        delete out[`${key}_FILE`];
        continue;
      }
      const read = readSecretFile(file);
      if (read.ok) {
        out[key] = read.value;
        sources[key] = file;
      } else {
        out[key] = undefined;
        failedKeys.add(key);
        problems.push(`${key}_FILE: ${read.problem}`);
      }
    }
    delete out[`${key}_FILE`];
  }
  return { env: out, sources, problems, failedKeys };
}
