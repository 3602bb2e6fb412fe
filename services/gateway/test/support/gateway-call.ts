// A raw HTTP/1.1 request to the gateway: fetch would normalise the path (dot segments, escapes) before sending.
import http from 'node:http';

export interface RawAnswer {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

export function rawRequest(base: string, target: string, headers: Record<string, string>, method = 'GET'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = http.request({ host: u.hostname, port: u.port, path: target, headers, method }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
