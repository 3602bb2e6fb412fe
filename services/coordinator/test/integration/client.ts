// The coordinator over real HTTP, as the integration tests call it: the operator's bearer token unless a test sends
// its own authorization header, JSON in and out.
export type Res = { status: number; body: any; headers: Headers };

export function coordinatorClient(token: string, defaultBase: () => string) {
  return async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = defaultBase()): Promise<Res> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
}
