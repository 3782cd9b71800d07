/**
 * Request size limits. A request that declares its length (almost all do) is judged by its
 * Content-Length header alone, before anything reads the body. A chunked body is read here,
 * counted as it streams and refused the moment it passes the limit; what was read is left in
 * Hono's body cache for the route. Why not Hono's bodyLimit: it asks for the body stream
 * first, which on @hono/node-server builds a full web Request for every call (a tenth of the
 * edge's CPU per accepted message), and a chunked body past its limit surfaced as the
 * validator's "malformed JSON" 400 instead of a 413.
 */
import type { Context, MiddlewareHandler } from 'hono';

/** `limitFor` sizes the limit per request path (one table for every route, see app.ts). */
export function limitBody(limitFor: (path: string) => number, onError: (c: Context, limit: number) => Response | Promise<Response>): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const maxSize = limitFor(c.req.path);
    const refuse = () => onError(c, maxSize);
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxSize) return refuse();
      return next();
    }
    const text = await readCounted(c, maxSize);
    if (text === null) return refuse();
    // Hono keeps each body read as a promise under its kind; "text" is what json() reads.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    await next();
  };
}

/**
 * A chunked body past its limit is still read to its end, discarded, up to this many bytes: a
 * server that stops reading while the client writes resets the connection, and the client sees
 * EPIPE instead of the 413 (RFC 9110 §15.5.14 lets the server close; clients do not cope).
 */
const DISCARD_MAX_BYTES = 128 * 1024 * 1024;

/** The body as text, or null once it passes `maxSize` bytes (the rest is read and discarded, bounded). */
async function readCounted(c: Context, maxSize: number): Promise<string | null> {
  const body = c.req.raw.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxSize) {
      chunks.length = 0;
      if (size > maxSize + DISCARD_MAX_BYTES) {
        await reader.cancel().catch(() => {});
        return null;
      }
      continue;
    }
    chunks.push(value);
  }
  if (size > maxSize) return null;
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}
