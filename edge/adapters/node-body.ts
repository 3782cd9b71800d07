/**
 * Node only: reads a request body of declared, modest length straight from the socket and
 * hands it to Hono's body cache as text, so `c.req.json()` parses it without a web Request and
 * a web stream bridged over the Node stream being built for it (@hono/node-server builds both
 * lazily, on the first body read). Bodies without a length, or larger than `maxBytes`, take the
 * ordinary path, where the route's size limit counts them as they stream.
 */
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';

/**
 * After a refusal (413) the rest of the body is still on its way. Node's HTTP server reads and
 * discards an unread body once the response is sent, keeping the connection; closing at once
 * instead resets it while the client is still writing, and fetch, Node's http client and curl
 * then report EPIPE / "fetch failed" instead of the 413 (nginx lingers the same way). The
 * discard is bounded: past this many more bytes, or this long, the connection is cut.
 */
const LINGER_BYTES = 128 * 1024 * 1024;
const LINGER_MS = 30_000;

function lingerAfterRefusal(incoming: IncomingMessage): void {
  if (incoming.complete) return;
  const socket = incoming.socket;
  let seen = 0;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > LINGER_BYTES) socket.destroy();
  };
  const timer = setTimeout(() => !incoming.complete && socket.destroy(), LINGER_MS);
  timer.unref();
  socket.on('data', onData);
  incoming.once('end', () => {
    clearTimeout(timer);
    socket.off('data', onData);
  });
  socket.once('close', () => clearTimeout(timer));
}

export function preloadNodeBodies(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const declared = Number(incoming?.headers['content-length'] ?? NaN);
    if (incoming && c.req.method !== 'GET' && c.req.method !== 'HEAD' && declared > 0 && declared <= maxBytes && !incoming.headers['transfer-encoding']) {
      const text = readText(incoming, declared);
      // Hono keeps each body read as a promise under its kind; "text" is what json() reads.
      (c.req.bodyCache as Record<string, unknown>).text = text;
      text.catch(() => {}); // a broken upload surfaces where the body is read
    }
    await next();
    // Whichever limit refused the body, its discard is bounded (see LINGER_BYTES).
    if (incoming && c.res.status === 413) lingerAfterRefusal(incoming);
  };
}

function readText(incoming: IncomingMessage, declared: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
    });
    incoming.once('end', () => {
      // Node's HTTP parser stops at the declared length; fewer bytes is an aborted upload.
      if (size !== declared) reject(new Error(`request body ended after ${size} of ${declared} bytes`));
      else resolve((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)).toString('utf8'));
    });
    incoming.once('error', reject);
  });
}
