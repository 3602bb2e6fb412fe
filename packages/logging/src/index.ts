// Logging: pino with redaction of secrets, tokens and credentials.
export { createLogger, redactUrl, type LoggerOptions, type Logger } from './create-logger.js';
export { REDACT_PATHS } from './redact-paths.js';
