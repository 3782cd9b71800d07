/** A TCP front for the edges (Cloudflare's anycast stand-in): each new connection goes to the first edge that answers. */
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpFront {
  port: number;
  close(): Promise<void>;
}

export async function tcpFront(backends: () => number[], port: number): Promise<TcpFront> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const ports = backends();
    const order = ports.map((_, i) => ports[(next + i) % ports.length]);
    next++;
    const attempt = (i: number) => {
      if (i >= order.length) return void client.destroy();
      const upstream = tcpConnect(order[i], '127.0.0.1');
      upstream.once('error', () => attempt(i + 1));
      upstream.once('connect', () => {
        sockets.add(upstream);
        upstream.removeAllListeners('error');
        upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
