/**
 * One-click unsubscribe (RFC 8058 over RFC 2369's List-Unsubscribe). Bulk-lane mail (lifecycle,
 * outreach) carries
 *
 *   List-Unsubscribe: <https://<public base>/u/<token>>, <mailto:unsubscribe+<token>@<intake host>>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 *
 * added at accept whatever the tenant's headers say (a tenant cannot set or drop them: the
 * header names are reserved there), and signed by DKIM (mta-node/dkim.ts names both in h=, as
 * RFC 8058 §4 requires). The token is signed (shared/tokens.ts) and binds tenant, recipient and
 * stream (lane and sender domain) plus the message, so it suppresses exactly its recipient, for
 * its tenant, and the trace of the message it came in says so.
 *
 * `unsubscribeByToken` is the one way in: `POST /u/:token` (edge/routes/unsubscribe.ts) and the
 * mailto path of the SMTP intake both call it.
 */
import type { AppDeps } from '../ports/app.ts';
import type { Lane } from '../../shared/lanes.ts';
import { signToken, verifyToken } from '../../shared/tokens.ts';
import { messageEvent, type MessageEventType } from '../../shared/events/index.ts';

/** Lanes whose mail always carries the one-click headers (SPEC §5); transactional carries none. */
export const UNSUBSCRIBE_LANES: readonly Lane[] = ['lifecycle', 'outreach'];
/** Header names the platform writes on bulk mail; a caller's headers may not set them. */
export const UNSUBSCRIBE_HEADER_NAMES = ['list-unsubscribe', 'list-unsubscribe-post'] as const;

const TOKEN_KIND = 'unsubscribe';
const KEY_PURPOSE = 'unsubscribe';

export function carriesUnsubscribe(lane: string): boolean {
  return (UNSUBSCRIBE_LANES as readonly string[]).includes(lane);
}

/** What a token names: whom to suppress for which tenant, from which stream and message. */
export interface UnsubscribeClaim {
  tenantId: string;
  recipient: string;
  lane: string;
  senderDomain: string;
  messageId: string;
}

export interface UnsubscribeLinks {
  token: string;
  /** The https URL (RFC 8058 §3.1): GET shows a confirmation page, POST unsubscribes. */
  url: string;
  /** The mailto URI (RFC 2369), when the platform has an intake host. */
  mailto: string | null;
  /** The two header fields, ready for the message. */
  headers: Record<string, string>;
}

type TokenDeps = Pick<AppDeps, 'secrets'>;

/** Where public links (unsubscribe, tracking fallback) point: POSTLANE_PUBLIC_URL, else the origin the request came in on. */
export function publicBaseOf(config: AppDeps['config'], requestUrl: string): string {
  return config.publicUrl ?? new URL(requestUrl).origin;
}

/** The signed links and header fields for one recipient of a bulk-lane message. */
export async function unsubscribeLinks(deps: TokenDeps, claim: UnsubscribeClaim, base: { publicUrl: string; intakeHost: string | null }): Promise<UnsubscribeLinks> {
  const key = await deps.secrets.hmacKey(KEY_PURPOSE);
  const token = await signToken(key, TOKEN_KIND, { v: 1, t: claim.tenantId, r: claim.recipient.toLowerCase(), l: claim.lane, d: claim.senderDomain.toLowerCase(), m: claim.messageId });
  const url = `${base.publicUrl.replace(/\/+$/, '')}/u/${token}`;
  // The token is base64url with one dot: a valid local part (RFC 5321 dot-string) as it is.
  const mailto = base.intakeHost ? `mailto:unsubscribe+${token}@${base.intakeHost}` : null;
  return {
    token,
    url,
    mailto,
    headers: {
      'List-Unsubscribe': mailto ? `<${url}>, <${mailto}>` : `<${url}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  };
}

/** The claim of a token this platform signed; null if it is forged, tampered or malformed. */
export async function readUnsubscribeToken(deps: TokenDeps, token: string): Promise<UnsubscribeClaim | null> {
  const payload = await verifyToken(await deps.secrets.hmacKey(KEY_PURPOSE), TOKEN_KIND, token);
  if (payload?.v !== 1) return null;
  const { t, r, l, d, m } = payload;
  if (typeof t !== 'string' || typeof r !== 'string' || typeof l !== 'string' || typeof d !== 'string' || typeof m !== 'string') return null;
  return { tenantId: t, recipient: r, lane: l, senderDomain: d, messageId: m };
}

export type UnsubscribeMethod = 'one_click' | 'mailto';

export type UnsubscribeOutcome =
  | { ok: true; claim: UnsubscribeClaim; /** false: the address was listed already (a repeated POST) */ newlySuppressed: boolean }
  | { ok: false; reason: 'invalid_token' };

/**
 * Suppresses the token's recipient for its tenant with reason `unsubscribe`, and records an
 * `unsubscribed` event on the message the link came in (so webhooks subscribed to it fire), in
 * one store transaction. Repeating it (mail clients retry POSTs) changes nothing and records no
 * second event. For the SMTP intake's `unsubscribe+<token>@` mailbox: pass `'mailto'`.
 */
export async function unsubscribeByToken(
  deps: Pick<AppDeps, 'store' | 'secrets' | 'metrics' | 'logger' | 'now'>,
  token: string,
  method: UnsubscribeMethod = 'one_click',
): Promise<UnsubscribeOutcome> {
  const claim = await readUnsubscribeToken(deps, token);
  if (!claim) return { ok: false, reason: 'invalid_token' };
  const now = deps.now?.() ?? Date.now();
  const found = await deps.store.findMessageJobs(claim.messageId);
  // The message may be gone (retention); the suppression still stands on the signed claim.
  const message = found && found.message.tenantId === claim.tenantId ? found : null;
  const job = message?.jobs.find((j) => j.recipient.toLowerCase() === claim.recipient) ?? null;
  if (message && job) {
    const before = await deps.store.jobEvents(message.message.id, job.id, ['unsubscribed'] satisfies MessageEventType[]);
    if (before.length > 0) return { ok: true, claim, newlySuppressed: false };
  }
  const suppression = {
    tenantId: claim.tenantId,
    address: claim.recipient,
    reason: 'unsubscribe' as const,
    source: `one-click unsubscribe (${method === 'mailto' ? 'mailto' : 'https'}) from ${claim.lane} mail of ${claim.senderDomain}`,
    messageId: message ? claim.messageId : null,
    jobId: job?.id ?? null,
    createdAt: now,
  };
  const events = message
    ? [messageEvent('unsubscribed', { messageId: claim.messageId, jobId: job?.id ?? null, at: now, data: { recipient: claim.recipient, lane: claim.lane, sender_domain: claim.senderDomain, method, suppressed: true } })]
    : [];
  const added = await deps.store.recordFeedback({ events, suppressions: [suppression] });
  deps.metrics.inc('postlane_unsubscribes_total', { lane: claim.lane, method });
  deps.logger.info({ tenantId: claim.tenantId, messageId: claim.messageId, lane: claim.lane, method }, 'recipient unsubscribed');
  return { ok: true, claim, newlySuppressed: added.length > 0 };
}
