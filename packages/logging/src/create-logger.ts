// JSON logger with secret redaction; every service and the supervisor log through this.
import { pino, type Logger, type DestinationStream } from 'pino';
import { lineScrubber } from './scrub-line.js';

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
  /** Exact secret values (e.g. the contents of secret files) that must never appear in a line, wherever they sit. */
  secrets?: readonly string[];
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.service,
      level: opts.level ?? 'info',
      base: { service: opts.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Redaction runs on the finished line (R-SEC-2): after the serializers, so it also covers error objects,
      // their causes and custom fields, nested objects at any depth, header names in any case, and the message.
      hooks: { streamWrite: lineScrubber(opts.secrets ?? []) },
    },
    opts.destination,
  );
}

/** Hides the password of a connection URL so it can be named in a message. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}

export type { Logger };
