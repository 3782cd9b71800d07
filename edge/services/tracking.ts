/**
 * Open and click tracking (SPEC §7), per lane policy (`tracking` in shared/policy/defaults.ts:
 * off by default, and never on outreach first touches unless the policy says `firstTouch`, as
 * seed 001 advises). At accept the HTML part gets a 1×1 pixel (`/t/o/<token>`) and its http(s)
 * links are rewritten to `/t/c/<token>` on the tracking base (POSTLANE_TRACKING_BASE, else the
 * public base). Each token is signed (shared/tokens.ts) and carries the message, the recipient
 * and, for a click, the target URL itself: the redirect goes only where the signer said, so the
 * click route is no open redirect. The unsubscribe link is left alone (RFC 8058 links must work
 * without a detour).
 *
 * A token names one recipient, so only single-recipient messages are tracked (bulk lanes always
 * are single-recipient: edge/services/unsubscribe.ts).
 */
import type { AppDeps } from '../ports/app.ts';
import type { Lane } from '../../shared/lanes.ts';
import { signToken, verifyToken } from '../../shared/tokens.ts';
import { messageEvent } from '../../shared/events/index.ts';
import { decodeEntities } from './html-text.ts';

const KEY_PURPOSE = 'tracking';
const OPEN = 'open';
const CLICK = 'click';

export interface TrackingPlan {
  opens: boolean;
  clicks: boolean;
  /** Base URL of the tracking links (no trailing slash). */
  base: string;
}

export interface TrackingClaim {
  tenantId: string;
  messageId: string;
  recipient: string;
  /** Clicks only: where the link goes. */
  url?: string;
}

/** Whether this send is tracked: the lane's policy, and for outreach whether the recipient was reached before. */
export async function trackingPlan(
  deps: Pick<AppDeps, 'store'>,
  policy: { tracking: { opens: boolean; clicks: boolean; firstTouch: boolean } },
  m: { tenantId: string; lane: Lane; recipients: string[]; base: string },
): Promise<TrackingPlan | null> {
  const { opens, clicks, firstTouch } = policy.tracking;
  if ((!opens && !clicks) || m.recipients.length !== 1) return null;
  if (m.lane === 'outreach' && !firstTouch) {
    const reached = await deps.store.deliveredBefore(m.tenantId, 'outreach', m.recipients);
    if (reached.length === 0) return null;
  }
  return { opens, clicks, base: m.base.replace(/\/+$/, '') };
}

// An <a …href="…"…> start tag; the href value in double or single quotes.
const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2/gi;

/**
 * The HTML with its links rewritten and the pixel added. Only absolute http(s) links are
 * rewritten (mailto:, tel:, fragments stay), and never `skip` (the unsubscribe URL).
 */
export async function trackHtml(deps: Pick<AppDeps, 'secrets'>, html: string, plan: TrackingPlan, claim: TrackingClaim, skip: string | null): Promise<string> {
  const key = await deps.secrets.hmacKey(KEY_PURPOSE);
  const base = { t: claim.tenantId, m: claim.messageId, r: claim.recipient.toLowerCase() };
  let out = html;
  if (plan.clicks) {
    const links: Array<{ whole: string; prefix: string; quote: string; url: string }> = [];
    for (const match of html.matchAll(ANCHOR_HREF)) links.push({ whole: match[0], prefix: match[1], quote: match[2], url: decodeEntities(match[3].trim()) });
    const rewritten = await Promise.all(
      links.map(async (l) => {
        if (!/^https?:\/\//i.test(l.url) || l.url === skip) return l.whole;
        const token = await signToken(key, CLICK, { v: 1, ...base, u: l.url });
        return `${l.prefix}${l.quote}${plan.base}/t/c/${token}${l.quote}`;
      }),
    );
    let i = 0;
    out = out.replace(ANCHOR_HREF, () => rewritten[i++]);
  }
  if (plan.opens) {
    const token = await signToken(key, OPEN, { v: 1, ...base });
    const pixel = `<img src="${plan.base}/t/o/${token}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
    out = /<\/body\s*>/i.test(out) ? out.replace(/<\/body\s*>/i, (end) => `${pixel}${end}`) : `${out}${pixel}`;
  }
  return out;
}

export async function readTrackingToken(deps: Pick<AppDeps, 'secrets'>, kind: 'open' | 'click', token: string): Promise<TrackingClaim | null> {
  const payload = await verifyToken(await deps.secrets.hmacKey(KEY_PURPOSE), kind === 'open' ? OPEN : CLICK, token);
  if (payload?.v !== 1) return null;
  const { t, m, r, u } = payload;
  if (typeof t !== 'string' || typeof m !== 'string' || typeof r !== 'string') return null;
  if (kind === 'click' && (typeof u !== 'string' || !/^https?:\/\//i.test(u))) return null;
  return { tenantId: t, messageId: m, recipient: r, ...(kind === 'click' ? { url: u as string } : {}) };
}

/**
 * Records `opened` or `clicked` on the message the token names (its webhooks fire from the
 * event). A message gone from the store records nothing; the pixel and the redirect still answer.
 */
export async function recordEngagement(deps: Pick<AppDeps, 'store' | 'metrics' | 'now'>, kind: 'open' | 'click', claim: TrackingClaim, userAgent: string | null) {
  const found = await deps.store.findMessageJobs(claim.messageId);
  if (!found || found.message.tenantId !== claim.tenantId) return;
  const job = found.jobs.find((j) => j.recipient.toLowerCase() === claim.recipient) ?? null;
  const at = deps.now?.() ?? Date.now();
  const ua = userAgent?.slice(0, 256) ?? null;
  const event =
    kind === 'open'
      ? messageEvent('opened', { messageId: claim.messageId, jobId: job?.id ?? null, at, data: { recipient: claim.recipient, user_agent: ua } })
      : messageEvent('clicked', { messageId: claim.messageId, jobId: job?.id ?? null, at, data: { recipient: claim.recipient, url: claim.url!, user_agent: ua } });
  await deps.store.appendEvents([event]);
  deps.metrics.inc('postlane_tracking_events_total', { type: event.type });
}
