// Configuration: env schemas, `X_FILE` resolution, every problem reported at once.
export { ConfigError } from './errors.js';
export { readSecretFile, type SecretFileResult } from './read-secret-file.js';
export { resolveFileVars, type Env, type ResolvedEnv } from './resolve-file-vars.js';
export { parseConfig, type ParseOptions } from './parse-config.js';
export { hexKey, port, bool, httpUrl, mode, logLevel } from './fields.js';
export { parseEnvFile, type EnvFileResult } from './env-file.js';
