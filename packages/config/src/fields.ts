// Reusable field parsers for environment schemas. Messages never include the offending value of a secret.
import { z } from 'zod';

export const hexKey = (minBytes: number) =>
  z
    .string({ required_error: 'is required' })
    .regex(/^[0-9a-f]+$/, 'must be lowercase hex')
    .refine((v) => v.length >= minBytes * 2 && v.length % 2 === 0, `must be at least ${minBytes} bytes of hex`);

export const port = (fallback: number) =>
  z.coerce
    .number({ invalid_type_error: 'must be a port number' })
    .int('must be an integer')
    .min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535')
    .default(fallback);

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { errorMap: () => ({ message: 'must be true or false' }) })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

export const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((v) => /^https?:\/\//.test(v), 'must be an http or https URL');

export const mode = z.enum(['dev', 'stable'], { errorMap: () => ({ message: 'must be dev or stable' }) }).default('stable');

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    errorMap: () => ({ message: 'must be one of fatal, error, warn, info, debug, trace, silent' }),
  })
  .default('info');
