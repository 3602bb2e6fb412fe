// The threat model, the compliance review and its playbooks cite repository paths and `caracal` commands as
// evidence; an auditor follows them. This keeps every citation real: a path that moved or a command that does not
// exist fails here, not in front of the auditor.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/output.js';
import { buildProgram } from '../../src/program.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const DOCS = [
  'governance/THREAT_MODEL.md',
  'docs/compliance-readiness.md',
  'playbooks/compliance/claude-code/CLAUDE.md',
  'playbooks/compliance/github-copilot/AGENTS.md',
  'playbooks/compliance/openai-codex/.codex/AGENTS.md',
];

/** Files or directories named by a path's leading segment that make it a repository path. */
const TOP_LEVEL = new Set(readdirSync(ROOT).filter((n) => n !== 'node_modules' && n !== '.git'));
/** A relative path ending in a file name with one of these extensions is a repository path, whatever it starts with. */
const FILE_PATH = /^[\w@.-]+(?:\/[\w@.-]+)*\/[\w@.-]+\.(?:ts|mjs|js|json|md|sql|sh|ya?ml|conf|pub)$/;
/** Placeholders and globs: the part before them must still exist. */
const WILD = /[<*{[]/;

interface Cited {
  doc: string;
  text: string;
}

function fencedBlocks(md: string): { code: string[]; prose: string } {
  const code: string[] = [];
  const prose = md.replace(/^```[^\n]*\n([\s\S]*?)^```$/gm, (_m, body: string) => {
    code.push(...body.split('\n'));
    return '';
  });
  return { code, prose };
}

function inlineSpans(prose: string): string[] {
  return [...prose.matchAll(/(`+)([^`]+?)\1/g)].map((m) => m[2]!.trim());
}

function links(prose: string): string[] {
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

function isRepoPath(span: string): boolean {
  if (/\s/.test(span) || /^(?:[a-z]+:|[./~$#-])/i.test(span)) return false;
  const first = span.split('/')[0]!;
  if (TOP_LEVEL.has(first.replace(WILD, '')) && (span.includes('/') || TOP_LEVEL.has(span))) return true;
  return FILE_PATH.test(span);
}

/** The path itself, or for a placeholder or glob, the directory that holds it. */
function mustExist(path: string): string {
  const cut = path.search(WILD);
  return cut < 0 ? path : path.slice(0, path.lastIndexOf('/', cut) + 1) || '.';
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(md: string): Set<string> {
  const heads = [...fencedBlocks(md).prose.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!);
  return new Set(heads.map((h) => h.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

function citedPaths(doc: string): { paths: Cited[]; links: Cited[] } {
  const { prose } = fencedBlocks(readFileSync(join(ROOT, doc), 'utf8'));
  return {
    paths: inlineSpans(prose).filter(isRepoPath).map((text) => ({ doc, text })),
    links: links(prose).filter((l) => !/^[a-z]+:/i.test(l)).map((text) => ({ doc, text })),
  };
}

function citedCommands(doc: string): Cited[] {
  const { code, prose } = fencedBlocks(readFileSync(join(ROOT, doc), 'utf8'));
  const lines = [...inlineSpans(prose), ...code.map((l) => l.replace(/^\s*\$\s*/, '').replace(/\s#.*$/, '').trim())];
  return lines.filter((l) => /^caracal\s/.test(l)).map((text) => ({ doc, text }));
}

function program(): Command {
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const out = createOutput({ stdout: sink as never, stderr: sink as never, stdinIsTTY: false, env: {} });
  return buildProgram({ out, env: {} }, { exitCode: 0 });
}

/** Walks `caracal a b --flag …` down the command tree; returns what is wrong with it, or undefined. */
function commandProblem(root: Command, line: string): string | undefined {
  const words = line.split(/\s+/).slice(1);
  let cmd = root;
  for (const word of words) {
    if (word.startsWith('--')) {
      const flag = word.split('=')[0]!;
      const known = ['--help', '--version', ...cmd.options.map((o) => o.long)];
      if (!known.includes(flag)) return `${cmd.name()} has no option ${flag}`;
      continue;
    }
    if (cmd.commands.length === 0 || !/^[a-z][a-z-]*$/.test(word)) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) return `${cmd.name()} has no subcommand ${word}`;
    cmd = sub;
  }
  return cmd === root ? 'no command named' : undefined;
}

describe('governance documents', () => {
  it.each(DOCS)('%s exists and cites evidence', (doc) => {
    expect(existsSync(join(ROOT, doc)), doc).toBe(true);
    expect(citedPaths(doc).paths.length).toBeGreaterThan(5);
  });

  it('every repository path they cite exists', () => {
    const missing = DOCS.flatMap((d) => citedPaths(d).paths).filter((c) => !existsSync(join(ROOT, mustExist(c.text))));
    expect(missing).toEqual([]);
  });

  it('every relative link resolves to a file, and to a heading of it when it names one', () => {
    const broken = DOCS.flatMap((d) => citedPaths(d).links).filter((c) => {
      const [file, anchor] = c.text.split('#');
      const target = file ? resolve(ROOT, dirname(c.doc), file) : join(ROOT, c.doc);
      if (!existsSync(target)) return true;
      return anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor);
    });
    expect(broken).toEqual([]);
  });

  it('every `caracal` command they cite is a command of the CLI, with options it has', () => {
    const root = program();
    const cited = DOCS.flatMap(citedCommands);
    expect(cited.length).toBeGreaterThan(10);
    const wrong = cited.map((c) => ({ ...c, problem: commandProblem(root, c.text) })).filter((c) => c.problem);
    expect(wrong).toEqual([]);
  });

  it('the checker itself catches a missing path, a wrong command and an unknown option', () => {
    const root = program();
    expect(isRepoPath('services/api/src/nope.ts') && !existsSync(join(ROOT, 'services/api/src/nope.ts'))).toBe(true);
    expect(isRepoPath('service/api/src/app.ts')).toBe(true);
    expect(mustExist('infra/postgres/migrations/NNNN_<verb>.up.sql')).toBe('infra/postgres/migrations/');
    expect(commandProblem(root, 'caracal audit verify --zone z')).toBeUndefined();
    expect(commandProblem(root, 'caracal audit verfy')).toBe('audit has no subcommand verfy');
    expect(commandProblem(root, 'caracal migrate validate --strict')).toBe('validate has no option --strict');
    expect(commandProblem(root, 'caracal frobnicate')).toBe('caracal has no subcommand frobnicate');
  });

  it('each playbook keeps the non-claims and names the evidence-pack commands', () => {
    for (const doc of DOCS.slice(1)) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      expect(text, doc).toMatch(/^#+ Non-claims$/m);
      expect(text, doc).toMatch(/no certification[^.]*is claimed or implied/i);
    }
    for (const doc of DOCS.slice(2)) expect(citedCommands(doc).map((c) => c.text).join('\n'), doc).toMatch(/evidence-pack verify/);
  });
});
