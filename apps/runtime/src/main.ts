// Entry of the `caracal` CLI: runs the program and maps every outcome to an exit code. The only file that exits.
import { CommanderError } from 'commander';
import { surviveClosedPipe } from './closed-pipe.js';
import { createOutput } from './output.js';
import { buildProgram, type ProgramResult } from './program.js';
import { CliError, EXIT } from './errors.js';

const USAGE_CODES = new Set([
  'commander.unknownCommand',
  'commander.unknownOption',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.invalidArgument',
  'commander.excessArguments',
  'commander.conflictingOption',
]);

async function main(argv: string[]): Promise<number> {
  surviveClosedPipe(process.stdout);
  surviveClosedPipe(process.stderr);
  const out = createOutput({ stdout: process.stdout, stderr: process.stderr, stdinIsTTY: Boolean(process.stdin.isTTY), env: process.env });
  const result: ProgramResult = { exitCode: EXIT.ok };
  const program = buildProgram({ out, env: process.env }, result);
  program.exitOverride();
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      // commander already printed the message (with a suggestion where it has one).
      return USAGE_CODES.has(err.code) || err.code === 'commander.executeSubCommandAsync' ? EXIT.usage : err.exitCode || EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.CARACAL_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return EXIT.failure;
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  () => process.exit(EXIT.failure),
);
