// CLI errors and their exit codes, mapped to a process exit in exactly one place (main.ts).

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The exit codes as every command's --help states them (R-CLI). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure (a check failed, a dependency is unusable, the operation could not complete)
  2  usage error (unknown command or flag, invalid value)`;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
    this.name = 'UsageError';
  }
}
