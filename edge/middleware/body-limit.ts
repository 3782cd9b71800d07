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

export function limitBody(maxSize: number, onError: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxSize) return onError(c);
      return next();
    }
    const text = await readCounted(c, maxSize);
    if (text === null) return onError(c);
    // Hono keeps each body read as a promise under its kind; "text" is what json() reads.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    await next();
  };
}

/** The body as text, or null as soon as it passes `maxSize` bytes (the rest is not read). */
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
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}
