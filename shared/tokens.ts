/**
 * Signed link tokens (unsubscribe, open and click tracking): `<payload>.<mac>`, both base64url,
 * the payload a small JSON object and the MAC HMAC-SHA256 (RFC 2104) over the token's kind and
 * payload. Web Crypto only, so the edge signs and checks them on Node and on Workers alike.
 *
 * What a link does is inside its payload (the recipient to suppress, the URL to redirect to), so
 * a token cannot be pointed at anything its signer did not name: no open redirect, no
 * unsubscribing someone else. The key comes from `Secrets.hmacKey(purpose)`.
 */
import { base64url, fromBase64 } from './ids.ts';

const encoder = new TextEncoder();
/** A token longer than this is refused before any work: no link we sign comes near it. */
const MAX_TOKEN_CHARS = 8192;

function macInput(kind: string, payload: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${kind}\n${payload}`) as Uint8Array<ArrayBuffer>;
}

export async function signToken(key: CryptoKey, kind: string, payload: Record<string, unknown>): Promise<string> {
  const body = base64url(encoder.encode(JSON.stringify(payload)));
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, macInput(kind, body)));
  return `${body}.${base64url(mac)}`;
}

/**
 * The payload of a token this key signed for this kind; null for anything else (malformed,
 * tampered, another kind's). The MAC is checked by `crypto.subtle.verify`, in constant time.
 */
export async function verifyToken(key: CryptoKey, kind: string, token: string): Promise<Record<string, unknown> | null> {
  if (token.length > MAX_TOKEN_CHARS) return null;
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return null;
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = fromBase64(match[2]);
  } catch {
    return null;
  }
  if (!(await crypto.subtle.verify('HMAC', key, mac, macInput(kind, match[1])))) return null;
  try {
    const payload = JSON.parse(new TextDecoder().decode(fromBase64(match[1])));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : null;
  } catch {
    return null;
  }
}
