// Secrets never reach a log line (R-SEC-2): tokens, client secrets, Authorization, Cookie and secret-file contents
// are censored wherever they sit — top level, nested, in arrays, in error objects and their causes, in messages.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/index.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VudC0xIiwiZXhwIjo5OTk5fQ.c2lnbmF0dXJlLWJ5dGVz';
const CLIENT_SECRET = 'cs_9f8e7d6c5b4a39281706f5e4';
const OPAQUE_TOKEN = 'tok_opaque_51c0ffee51c0ffee';
const COOKIE = 'sid=session-cookie-value-77aa';
const FILE_SECRET = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const DB_PASSWORD = 'pg-Pa55word-from-file';
const SECRETS = [JWT, CLIENT_SECRET, OPAQUE_TOKEN, COOKIE, FILE_SECRET, DB_PASSWORD];

/** A logger writing to memory, and the lines it wrote. */
function capture(secrets: readonly string[] = []): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ service: 'test', level: 'debug', destination, secrets });
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

function expectNoSecret(lines: string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(() => JSON.parse(line), line).not.toThrow();
    for (const secret of SECRETS) expect(line, `leaked ${secret}`).not.toContain(secret);
  }
}

describe('log redaction', () => {
  it('censors sensitive fields at the top level and keeps the rest', () => {
    const { logger, lines } = capture();
    logger.info({ token: OPAQUE_TOKEN, client_secret: CLIENT_SECRET, authorization: `Bearer ${JWT}`, cookie: COOKIE, zone_id: 'z1' }, 'top');
    expectNoSecret(lines());
    expect(JSON.parse(lines()[0]!)).toMatchObject({ token: '[redacted]', client_secret: '[redacted]', authorization: '[redacted]', cookie: '[redacted]', zone_id: 'z1', msg: 'top' });
  });

  it('censors request headers whatever their letter case and however deep they sit', () => {
    const { logger, lines } = capture();
    logger.info({ req: { headers: { Authorization: `Bearer ${JWT}`, Cookie: COOKIE, 'Proxy-Authorization': `Basic ${CLIENT_SECRET}` } } });
    logger.info({ upstream: { request: { headers: { authorization: `Bearer ${OPAQUE_TOKEN}`, 'set-cookie': [COOKIE] } } } });
    expectNoSecret(lines());
    expect(JSON.parse(lines()[1]!).upstream.request.headers.authorization).toBe('[redacted]');
  });

  it('censors tokens and client secrets nested in objects and arrays', () => {
    const { logger, lines } = capture();
    logger.info({ body: { grant: { subject_token: JWT, actor_token: JWT } }, clients: [{ id: 'c1', clientSecret: CLIENT_SECRET }], deep: { a: { b: { c: { access_token: OPAQUE_TOKEN } } } } });
    logger.info({ env: { METRICS_BEARER: FILE_SECRET, SECRET_STORE_KEK: FILE_SECRET, CARACAL_ADMIN_TOKEN: OPAQUE_TOKEN, DATABASE_URL: `postgres://u:${DB_PASSWORD}@h/db` } });
    expectNoSecret(lines());
    expect(JSON.parse(lines()[0]!).clients[0].id).toBe('c1');
  });

  it('leaves ordinary fields that merely mention tokens alone', () => {
    const { logger, lines } = capture();
    logger.info({ reason: 'invalid_token', token_type: 'Bearer', tokenEndpoint: '/oauth/token', expires_in: 300 }, 'token issued');
    expect(JSON.parse(lines()[0]!)).toMatchObject({ reason: 'invalid_token', token_type: 'Bearer', tokenEndpoint: '/oauth/token', expires_in: 300, msg: 'token issued' });
  });

  it('censors secrets inside error objects: message, own fields, stack and cause', () => {
    const { logger, lines } = capture();
    const cause = Object.assign(new Error(`upstream refused Authorization: Bearer ${JWT}`), { headers: { authorization: `Bearer ${JWT}` } });
    const err = Object.assign(new Error(`exchange failed for token ${JWT}`, { cause }), { client_secret: CLIENT_SECRET, request: { cookie: COOKIE } });
    logger.error({ err }, 'with err field');
    logger.error(err);
    logger.error({ failure: { error: err } }, 'nested error');
    expectNoSecret(lines());
    const first = JSON.parse(lines()[0]!);
    expect(first.err.type).toBe('Error');
    expect(first.err.message).toContain('exchange failed for token');
  });

  it('censors tokens and credentials written into the message itself', () => {
    const { logger, lines } = capture();
    logger.warn(`client_secret=${CLIENT_SECRET}&subject_token=${OPAQUE_TOKEN} refused`);
    logger.warn(`header was Bearer ${OPAQUE_TOKEN}; jwt ${JWT}`);
    logger.warn(`connecting to postgres://caracal:${DB_PASSWORD}@127.0.0.1:5432/caracal`);
    expectNoSecret(lines());
  });

  it('never writes the contents of a secret file, wherever it appears', () => {
    const { logger, lines } = capture([FILE_SECRET, DB_PASSWORD]);
    logger.info({ config: { STREAMS_HMAC_KEY: FILE_SECRET, note: `key is ${FILE_SECRET}` } });
    logger.error({ err: new Error(`password authentication failed: "${DB_PASSWORD}"`) }, 'db');
    logger.info(`loaded ${FILE_SECRET}`);
    logger.info({ list: [`x${FILE_SECRET}y`], [FILE_SECRET]: 'as a key' });
    expectNoSecret(lines());
  });
});

describe('log redaction: lines that look clean in their JSON text', () => {
  it('still censors a sensitive key right after a value ending in a comma, and a credential behind an escaped tab', () => {
    const { logger, lines } = capture();
    logger.info({ note: 'a,', ':password': CLIENT_SECRET }, 'odd key');
    logger.info({ header: `Bearer\t${OPAQUE_TOKEN}` }, 'escaped whitespace');
    expectNoSecret(lines());
    expect(JSON.parse(lines()[0]!)[':password']).toBe('[redacted]');
  });

  it('writes a line with nothing to censor exactly as it was, byte for byte', () => {
    const { logger, lines } = capture(SECRETS);
    logger.info({ method: 'GET', path: '/items', status: 200, ms: 1.5 }, 'request');
    const [line] = lines();
    expect(JSON.stringify(JSON.parse(line!))).toBe(line);
    expect(JSON.parse(line!)).toMatchObject({ method: 'GET', path: '/items', status: 200, ms: 1.5, msg: 'request' });
  });
});
