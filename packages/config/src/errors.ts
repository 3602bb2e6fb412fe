// Configuration errors: every problem is collected and reported together (R-SHAPE-4).

export class ConfigError extends Error {
  readonly code = 'CARACAL_CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
