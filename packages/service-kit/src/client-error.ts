// Errors Node's HTTP parser raises before Fastify sees a request (malformed request line, headers too large, a
// request that took too long): answered with the same RFC-shaped JSON body as every other refusal.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

const ANSWERS: Record<string, { status: number; error: string; description: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, error: 'invalid_request', description: 'request headers too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, error: 'invalid_request', description: 'request timed out' },
};
const BAD_REQUEST = { status: 400, error: 'invalid_request', description: 'malformed HTTP request' };

export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A peer that went away gets nothing; there is no one to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const a = (err.code && ANSWERS[err.code]) || BAD_REQUEST;
  const body = JSON.stringify({ error: a.error, error_description: a.description });
  socket.end(
    [
      `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      'cache-control: no-store',
      'x-content-type-options: nosniff',
      'connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}
