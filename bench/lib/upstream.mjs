// bench/lib/upstream: the tiny local upstream the gateway benchmarks forward to — a small JSON body for every GET, plus /__stats counting requests that carried the injected credential.
import http from 'node:http';

const BODY = JSON.stringify({ items: [{ id: 1, name: 'alpha' }, { id: 2, name: 'beta' }], ok: true });
const CREDENTIAL = `Bearer ${process.env.UPSTREAM_CREDENTIAL ?? 'upstream-secret'}`;
const stats = { requests: 0, with_credential: 0 };

const server = http.createServer((req, res) => {
  if (req.url === '/__stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  stats.requests++;
  if (req.headers.authorization === CREDENTIAL) stats.with_credential++;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
