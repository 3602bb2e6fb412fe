// bench/lib/node-forwarder: floors for the gateway's CPU per request, as the least a Node.js process can do per
// request on this machine. A bare `node:http` server passes each request to the upstream through one kept-alive
// undici pool and the answer back: no framework, no mandate, no decision, no log, no audit event. With `--steps`
// it also does, per request, the work the gateway may not skip, each in its cheapest form: one ES256 signature
// verified, one HTTP round trip standing in for the STS decision (to the same upstream), and one Redis round trip
// claiming the token's id and appending an audit event (SET NX + XADD in one pipeline).
// Usage: node bench/lib/node-forwarder.mjs UPSTREAM_ORIGIN [--steps REDIS_URL] (prints {"port", "pid"} once listening)
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';
import { Pool } from 'undici';

const upstream = new Pool(process.argv[2], { connections: 64 });
const stepsAt = process.argv.indexOf('--steps');
const redis = stepsAt > 0 ? new Redis(process.argv[stepsAt + 1]) : null;
const prefix = `caracal-bench:forwarder:${randomUUID()}:`;

// A token-sized signed text and its signature, checked again on every request.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signed = Buffer.from(`${'h'.repeat(36)}.${'p'.repeat(420)}`);
const signature = sign('sha256', signed, { key: privateKey, dsaEncoding: 'ieee-p1363' });

async function requiredSteps(req) {
  if (!verify('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) throw new Error('signature');
  const decision = await upstream.request({ path: '/decision', method: 'GET' });
  await decision.body.arrayBuffer();
  const jti = randomUUID();
  const replies = await redis
    .pipeline()
    .set(`${prefix}jti:${jti}`, '1', 'PX', 60_000, 'NX')
    .xadd(`${prefix}audit`, 'MAXLEN', '~', '10000', '*', 'data', JSON.stringify({ event: 'gateway.decision', jti, path: req.url, decision: 'allow' }))
    .exec();
  if (replies.some(([err]) => err)) throw new Error('redis');
}

const server = http.createServer(async (req, res) => {
  try {
    if (redis) await requiredSteps(req);
    const answer = await upstream.request({ path: req.url, method: req.method, headers: { accept: req.headers.accept ?? '*/*' } });
    const body = Buffer.from(await answer.body.arrayBuffer());
    res.writeHead(answer.statusCode, { 'content-type': answer.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  } catch {
    res.writeHead(502).end();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`));
process.once('SIGTERM', async () => {
  if (redis) {
    await redis.del(`${prefix}audit`).catch(() => undefined);
    redis.disconnect();
  }
  server.close(() => process.exit(0)).closeAllConnections();
});
