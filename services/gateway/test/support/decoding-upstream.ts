// An upstream that routes the way common frameworks do: it percent-decodes the path once
// (decodeURIComponent) and then routes `/admin` and `/admin/*` to an admin handler and exactly `/export` to an
// export handler; everything else is public. It answers which route served the request and the raw target.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DecodingUpstream {
  url: string;
  seen: string[];
  close: () => Promise<void>;
}

export function routeOf(rawTarget: string): string {
  let path: string;
  try {
    path = decodeURIComponent(rawTarget.split('?')[0] ?? '/');
  } catch {
    return 'bad_request';
  }
  if (path === '/admin' || path.startsWith('/admin/')) return 'admin';
  if (path === '/export') return 'export';
  return 'public';
}

export async function startDecodingUpstream(): Promise<DecodingUpstream> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ route: routeOf(req.url ?? '/'), raw: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
