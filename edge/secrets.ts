/**
 * Encryption at rest for DKIM private keys (SPEC §6): AES-256-GCM with the platform master key,
 * Web Crypto only so Workers and Node share it. Sealed form: `v1.<iv>.<ciphertext+tag>`, base64url.
 * The same master key also yields purpose-bound HMAC keys (`hmacKey`): signed links, dashboard sessions.
 */
import type { Secrets } from './ports/secrets.ts';
import { base64url, fromBase64 } from '../shared/ids.ts';

export async function createSecrets(masterKeyBase64: string): Promise<Secrets> {
  const raw = fromBase64(masterKeyBase64.trim());
  if (raw.length !== 32) {
    throw new Error(`POSTLANE_MASTER_KEY must be 32 bytes in base64 (got ${raw.length} bytes)`);
  }
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const hkdf = await crypto.subtle.importKey('raw', raw, 'HKDF', false, ['deriveKey']);
  const hmacKeys = new Map<string, Promise<CryptoKey>>();
  return {
    hmacKey(purpose) {
      let derived = hmacKeys.get(purpose);
      if (!derived) {
        // RFC 5869 HKDF-SHA256; the purpose is the `info`, so each purpose has its own key.
        derived = crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new TextEncoder().encode(`postlane:${purpose}`) },
          hkdf,
          { name: 'HMAC', hash: 'SHA-256', length: 256 },
          false,
          ['sign', 'verify'],
        );
        hmacKeys.set(purpose, derived);
      }
      return derived;
    },
    async seal(plaintext) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(plaintext));
      return `v1.${base64url(iv)}.${base64url(new Uint8Array(sealed))}`;
    },
    async open(sealed) {
      const [version, iv, data] = sealed.split('.');
      if (version !== 'v1' || !iv || !data) throw new Error('sealed secret has an unknown format');
      const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64(iv) }, key, fromBase64(data));
      return new TextDecoder().decode(plain);
    },
  };
}

export function newMasterKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes));
}
