/**
 * Bench child: the HTTP ceiling. A trivial Hono app on @hono/node-server (the same server stack
 * the edge uses) that reads the request body and answers a small JSON, with no validation and no
 * store: what the same client gets from this machine when the application does nothing.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fail, onShutdown, send } from './ipc.ts';

try {
  const app = new Hono();
  app.post('/hello', async (c) => {
    const body = await c.req.text();
    return c.json({ id: 'hello', status: 'queued', bytes: body.length }, 202);
  });
  app.post('/hello/batch', async (c) => {
    const body = await c.req.text();
    return c.json({ data: [], bytes: body.length }, 202);
  });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  onShutdown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections?.();
      }),
  );
  send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
} catch (err) {
  fail(err);
}
