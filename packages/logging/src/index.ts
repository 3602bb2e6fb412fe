// Logging: pino with redaction of secrets, tokens and credentials.
export { createLogger, redactUrl, type LoggerOptions, type Logger } from './create-logger.js';
export { isSensitiveKey } from './sensitive-keys.js';
