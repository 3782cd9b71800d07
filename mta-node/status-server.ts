/**
 * The node's own HTTP port for operators: `GET /metrics` (Prometheus text: the node's
 * `postlane_node_*` series, which the edge cannot see), `GET /healthz` (liveness: 200 while the
 * process serves, with whether the hub is connected) and `GET /readyz` (readiness: 200 while the
 * hub has welcomed the node and it is not draining, 503 otherwise, so an orchestrator or a load
 * balancer's check stops counting on a node that lost its hub or is stopping). Bound to loopback
 * unless told otherwise: metrics name IPs and destinations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

export async function startStatusServer(opts: { port: number; host?: string; registry: Registry; connected: () => boolean; draining: () => boolean }): Promise<StatusServer> {
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
    if (path === '/healthz' || path === '/readyz') {
      const connected = opts.connected();
      const draining = opts.draining();
      const ok = path === '/healthz' || (connected && !draining);
      const body = { ok, hub: connected ? 'connected' : 'not connected', ...(draining ? { draining: true } : {}) };
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('routes: GET /metrics, GET /healthz, GET /readyz');
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
