/**
 * Identifiers: a prefix naming the kind, then 10 characters of millisecond time and 16 of
 * randomness in Crockford base32 (ULID layout), so ids sort by creation and never collide.
 * Web Crypto only, so the same code runs in Workers and Node.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newId(prefix: string, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${randomChars(16)}`;
}

/** `length` random characters of the id alphabet (5 bits each): unique, not secret. */
export function randomChars(length: number): string {
  const bytes = randomIdBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[randomAt + i] % 32];
  randomAt += length;
  return out;
}

/**
 * Id randomness is drawn from a pool refilled 4 KB at a time: one getRandomValues call per
 * id was a visible share of accept's CPU. Ids are not secrets (newSecret draws its own).
 */
let randomPool = new Uint8Array(0);
let randomAt = 0;
function randomIdBytes(length: number): Uint8Array {
  if (randomAt + length > randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(4096));
    randomAt = 0;
  }
  return randomPool;
}

/** A secret token: prefix plus 32 random bytes, base64url. Only its hash is stored. */
export function newSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `${prefix}_${base64url(bytes)}`;
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Node's synchronous hash where the runtime has it (found at run time, not imported, so this
 * file still loads on Workers): Web Crypto's digest hands each call to the thread pool, which
 * cost more than the hashing on the accept path.
 */
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as
  | { createHash(algorithm: 'sha256'): { update(text: string, encoding: 'utf8'): { digest(encoding: 'hex'): string } } }
  | undefined;

export async function sha256Hex(text: string): Promise<string> {
  if (nodeCrypto) return nodeCrypto.createHash('sha256').update(text, 'utf8').digest('hex');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
