// `--help` marks every option a command cannot run without, so `zone create --help` shows that --name is needed
// before the user meets the error.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/output.js';
import { buildProgram } from '../../src/program.js';

const sink = { write: () => true } as unknown as NodeJS.WritableStream & { isTTY?: boolean };

function program(): Command {
  const out = createOutput({ stdout: sink as never, stderr: sink as never, stdinIsTTY: false, env: {} });
  return buildProgram({ out, env: {} }, { exitCode: 0 });
}

function* everyCommand(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* everyCommand(sub);
}

/** The help entry of one option, found by its long flag, with its wrapped continuation lines joined. */
function helpLine(cmd: Command, long: string): string {
  const lines = cmd.helpInformation().split('\n');
  const start = lines.findIndex((l) => /^\s+(-\w, )?--/.test(l) && l.trimStart().replace(/^-\w, /, '').startsWith(`${long} `));
  if (start < 0) return '';
  const entry = [lines[start]!];
  for (const l of lines.slice(start + 1)) {
    if (!/^\s{6,}\S/.test(l) || /^\s+-/.test(l)) break;
    entry.push(l.trim());
  }
  return entry.join(' ').trim();
}

describe('--help', () => {
  it('zone create marks --name as required', () => {
    const zone = program().commands.find((c) => c.name() === 'zone')!;
    const create = zone.commands.find((c) => c.name() === 'create')!;
    expect(helpLine(create, '--name')).toMatch(/display name \(required\)$/);
    expect(helpLine(create, '--json')).not.toContain('(required)');
  });

  it('marks exactly the mandatory options of every command', () => {
    let mandatory = 0;
    for (const cmd of everyCommand(program())) {
      for (const opt of cmd.options) {
        const line = helpLine(cmd, opt.long!);
        expect(line.includes('(required)'), `${cmd.name()} ${opt.long}`).toBe(opt.mandatory);
        if (opt.mandatory) mandatory += 1;
      }
    }
    expect(mandatory).toBeGreaterThan(10);
  });
});
