// Parses an environment against a schema once, collecting every problem before failing (R-SHAPE-4).
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { resolveFileVars, type Env } from './resolve-file-vars.js';

export interface ParseOptions<T> {
  /** Keys that may be given as `KEY_FILE`; their values are never echoed in errors. */
  fileKeys: readonly string[];
  /**
   * Cross-field checks (e.g. stable-mode fail-closed rules); return problems, never throw. Called even when the
   * schema failed (with `config` undefined) so every problem is reported in one pass.
   */
  refine?: (config: T | undefined, env: Record<string, string | undefined>) => string[];
}

export function parseConfig<S extends z.ZodTypeAny>(schema: S, env: Env, opts: ParseOptions<z.output<S>>): z.output<S> {
  const resolved = resolveFileVars(env, opts.fileKeys);
  const problems = [...resolved.problems];
  const result = schema.safeParse(resolved.env);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join('.');
      // A key whose file already failed has been reported; do not report it twice.
      if (resolved.failedKeys.has(key)) continue;
      const where = resolved.sources[key] ? `${key} (from ${resolved.sources[key]})` : key;
      problems.push(`${where}: ${issue.message}`);
    }
  }
  if (opts.refine) {
    const extra = opts.refine(result.success ? result.data : undefined, resolved.env);
    problems.push(...extra.filter((p) => !resolved.failedKeys.has(p.split(':')[0] ?? '')));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return (result as { data: z.output<S> }).data;
}
