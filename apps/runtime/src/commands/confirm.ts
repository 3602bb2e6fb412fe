// Typed confirmation for destructive operations: the operator must type the word, not just press enter.
import * as prompts from '@clack/prompts';
import { CliError } from '../errors.js';
import type { Io } from './io.js';

export async function confirmTyped(io: Io, word: string, what: string): Promise<void> {
  const answer = await prompts.text({ message: `${what}. Type '${word}' to continue` });
  if (prompts.isCancel(answer) || answer !== word) throw new CliError('not confirmed; nothing was changed');
  io.out.info('confirmed');
}
