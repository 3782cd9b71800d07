/**
 * Standard Webhooks signing (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one signature per live
 * secret, space-separated (during a rotation's overlap the old secret signs too). Secrets are
 * `whsec_<base64 of 24 random bytes>`, the format the `standardwebhooks` verifiers take.
 */
import { Webhook } from 'standardwebhooks';
import { base64 } from '../../shared/ids.ts';

export const SECRET_PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${base64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The headers of one attempt: signed now (a retry is signed afresh, so its timestamp is current). */
export function signDelivery(msgId: string, body: string, secrets: string[], at: Date = new Date()): SignedHeaders {
  if (secrets.length === 0) throw new Error('no secret to sign with');
  const signature = secrets.map((s) => new Webhook(s).sign(msgId, at, body)).join(' ');
  return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}
