// The shape every admin command shares: a group with the exit-code help, leaves with --json, a required --zone.
import type { Command } from 'commander';
import { EXIT_CODES_HELP } from '../errors.js';
import { zoneRef } from './flags.js';

export interface JsonOpt {
  json?: boolean;
}

export interface ZoneOpt extends JsonOpt {
  zone: string;
}

/** A top-level admin command (`zone`, `app`, …) whose subcommands do the work. */
export function group(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).addHelpText('after', EXIT_CODES_HELP);
}

/** One operation; `--json` prints the API's JSON instead of a table or `key: value` lines. */
export function leaf(parent: Command, name: string, description: string): Command {
  return parent.command(name).description(description).option('--json', "print the API's JSON").addHelpText('after', EXIT_CODES_HELP);
}

/** A leaf acting inside one zone. */
export function zoned(parent: Command, name: string, description: string): Command {
  return leaf(parent, name, description).requiredOption('--zone <zone>', 'zone id or slug', zoneRef);
}
