/**
 * The node's own HTTP port for operators: `GET /metrics` (Prometheus text: the node's
 * `postlane_node_*` series, which the edge cannot see) and `GET /healthz` (readiness: 200 while
 * the hub has welcomed the node, 503 otherwise, so an orchestrator stops routing to a node that
 * lost its hub). Bound to loopback unless told otherwise: metrics name IPs and destinations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

export async function startStatusServer(opts: { port: number; host?: string; registry: Registry; ready: () => boolean }): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}`),
      );
      return;
    }
    if (path === '/healthz') {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: ready, hub: ready ? 'connected' : 'not connected' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('routes: GET /metrics, GET /healthz');
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
