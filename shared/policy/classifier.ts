/**
 * Provider-aware reply classification (SPEC §4). A table of real provider replies maps each to
 * a class; each class carries what to do: bounce or defer, the retry schedule, whether the
 * recipient is suppressed, what happens to the pool, and which breaker signal it feeds.
 *
 * Matching order: the recipient provider's rows, then rows of other providers whose markers
 * are unambiguous (a Microsoft 365 custom domain whose MX we did not resolve still says
 * 4.7.650), then generic wording rows for any provider, then RFC 3463 enhanced codes by class.subject.detail
 * and class.subject, then the RFC 5321 basic code. The table decides before the first digit:
 * a provider that answers a throttle with 5xx is deferred, not bounced.
 *
 * Facts: the provider-replies reference gathered for the spec (shared reference notes); every row names its source.
 */
import * as v from 'valibot';
import type { SmtpReply } from '../protocol.ts';
import { PolicyValidationError, regexSource, replyMatches, type ReplyMatch } from './providers.ts';
import { HumanRetryScheduleSchema, toRetrySchedule, type HumanRetrySchedule, type RetrySchedule } from './retry.ts';
import { formatIssues } from './units.ts';

export const REPLY_CLASSES = [
  'rate_limited',
  'ip_reputation',
  'domain_reputation',
  'auth_failure',
  'unknown_user',
  'mailbox_full',
  'mailbox_disabled',
  'policy',
  'content',
  'network',
  'blocklisted',
  'other_transient',
  'other_permanent',
] as const;
export type ReplyClass = (typeof REPLY_CLASSES)[number];

export type Outcome = 'deferred' | 'bounced';
export type PoolAction = 'none' | 'throttle' | 'slow_start' | 'suspend_ip_for_provider' | 'pause_domain';
/** What the breakers count: see breaker.ts. */
export type BreakerSignal = 'block' | 'bounce' | 'throttle' | 'none';

export interface ClassPolicy {
  /** `by_code`: 4xx defers, 5xx bounces. A fixed outcome overrides the digit. */
  outcome: Outcome | 'by_code';
  schedule: HumanRetrySchedule;
  /** Hard classes: a bounce of this class suppresses the recipient. */
  suppressRecipient: boolean;
  poolAction: PoolAction;
  signal: BreakerSignal;
}

/** postlane defaults; the reasons are on each line. */
export const CLASS_POLICY: Record<ReplyClass, ClassPolicy> = {
  // Throttles clear in minutes to hours; retrying fast is what turns a deferral into a block.
  rate_limited: { outcome: 'deferred', schedule: { initial: '10m', factor: 2, max: '2h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'throttle', signal: 'throttle' },
  // About the source IP, not the message: deferred even on 5xx, so it can leave from another IP.
  ip_reputation: { outcome: 'deferred', schedule: { initial: '30m', factor: 2, max: '4h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'throttle', signal: 'block' },
  domain_reputation: { outcome: 'by_code', schedule: { initial: '1h', factor: 2, max: '6h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'slow_start', signal: 'block' },
  // A DNS fix takes a human; a day of retries covers the fix, the signal stays off the shared
  // pool's breaker because it is one sender domain's configuration (pause_domain handles it).
  auth_failure: { outcome: 'by_code', schedule: { initial: '30m', factor: 2, max: '4h', jitter: 0.5, ttl: '24h' }, suppressRecipient: false, poolAction: 'pause_domain', signal: 'none' },
  unknown_user: { outcome: 'by_code', schedule: { initial: '30m', factor: 2, max: '2h', jitter: 0.5, ttl: '24h' }, suppressRecipient: true, poolAction: 'none', signal: 'bounce' },
  // RFC 3463 §3.3 X.2.2: mailbox full is "useful only as a persistent transient error", so even
  // 552 5.2.2 is retried; the suppression list suppresses after repeats (reference: KumoMTA bounces.toml).
  mailbox_full: { outcome: 'deferred', schedule: { initial: '1h', factor: 2, max: '8h', jitter: 0.5, ttl: '48h' }, suppressRecipient: false, poolAction: 'none', signal: 'none' },
  mailbox_disabled: { outcome: 'by_code', schedule: { initial: '1h', factor: 2, max: '6h', jitter: 0.5, ttl: '24h' }, suppressRecipient: true, poolAction: 'none', signal: 'bounce' },
  policy: { outcome: 'by_code', schedule: { initial: '15m', factor: 2, max: '4h', jitter: 0.5, ttl: '48h' }, suppressRecipient: false, poolAction: 'none', signal: 'none' },
  content: { outcome: 'by_code', schedule: { initial: '30m', factor: 2, max: '4h', jitter: 0.5, ttl: '24h' }, suppressRecipient: false, poolAction: 'none', signal: 'block' },
  network: { outcome: 'deferred', schedule: { initial: '5m', factor: 2, max: '1h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'none', signal: 'none' },
  // The IP is listed: stop using it for this provider, deliver the message from another IP.
  blocklisted: { outcome: 'deferred', schedule: { initial: '1h', factor: 2, max: '6h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'suspend_ip_for_provider', signal: 'block' },
  other_transient: { outcome: 'deferred', schedule: { initial: '1m', factor: 2, max: '4h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'none', signal: 'none' },
  other_permanent: { outcome: 'bounced', schedule: { initial: '1m', factor: 2, max: '4h', jitter: 0.5, ttl: '72h' }, suppressRecipient: false, poolAction: 'none', signal: 'bounce' },
};

export interface ReplyRule {
  id: string;
  /** Provider key from providers.ts, or '*' for any. */
  provider: string;
  match: ReplyMatch & { /** 4 or 5: first digit of the basic code. */ codeClass?: 4 | 5 };
  class: ReplyClass;
  /** The marker is unambiguous, so the row also applies when the provider was not recognised. */
  distinctive?: boolean;
  /** Row-level exceptions to the class policy. */
  outcome?: Outcome;
  poolAction?: PoolAction;
  signal?: BreakerSignal;
  source: string;
}

const GOOGLE_HELP = 'support.google.com/a/answer/3726730';
const GOOGLE_BULK = 'Google bulk sender guidance';
const DMARCPAL = 'dmarcpal.com (Gmail bulk sender error codes)';
const KUMO_RULES = 'KumoMTA community shaping rules';
const KUMO_BOUNCES = 'KumoMTA bounces.toml';
const MS_NDR = 'learn.microsoft.com (NDR 5.7.700-5.7.750)';
const YAHOO_HELP = 'help.yahoo.com (postmaster error codes)';

/** Gmail's authentication sub-codes come as 4.7.N (retry, alert) and 5.7.N (permanent). */
function gmailAuthRows(): ReplyRule[] {
  const codes: Array<[string, string]> = [['27', 'SPF'], ['30', 'DKIM'], ['32', 'DMARC alignment'], ['40', 'no DMARC record']];
  return codes.flatMap(([detail, what]) =>
    (['4', '5'] as const).map((c) => ({
      id: `gmail.${c}.7.${detail}`,
      provider: 'gmail',
      match: { enhanced: `${c}.7.${detail}` },
      class: 'auth_failure' as const,
      source: `${DMARCPAL}: ${what}`,
    })),
  );
}

export const REPLY_RULES: ReplyRule[] = [
  // ---- Gmail
  { id: 'gmail.421-4.7.28', provider: 'gmail', match: { enhanced: '4.7.28' }, class: 'rate_limited', source: 'smtp.codes/google (IP rate limited, bulk sender rules)' },
  { id: 'gmail.421-4.7.0-unusual-rate', provider: 'gmail', match: { enhanced: '4.7.0', text: 'unusual rate of unsolicited mail' }, class: 'ip_reputation', source: GOOGLE_HELP },
  { id: 'gmail.domain-reputation', provider: 'gmail', match: { text: 'low reputation of the sending domain|sending domain has a (very )?low reputation' }, class: 'domain_reputation', source: 'smtp.codes/google' },
  { id: 'gmail.421-4.7.0-no-auth-info', provider: 'gmail', match: { text: 'does not have authentication information|fails to pass authentication checks' }, class: 'auth_failure', source: KUMO_RULES },
  // Gmail's answer to too many connections or too fast a pace from one IP: slow down, not a verdict.
  { id: 'gmail.421-4.7.0-try-again-later', provider: 'gmail', match: { code: 421, enhanced: '4.7.0', text: 'try again later, closing connection' }, class: 'rate_limited', source: GOOGLE_HELP },
  { id: 'gmail.4.7.0-tls-required', provider: 'gmail', match: { codeClass: 4, text: 'TLS required' }, class: 'policy', source: GOOGLE_HELP },
  // Per-recipient rate: that recipient, later. Not the pool's fault, so no pool action.
  { id: 'gmail.450-4.2.1-too-fast', provider: 'gmail', match: { enhanced: '4.2.1' }, class: 'rate_limited', poolAction: 'none', signal: 'none', source: GOOGLE_HELP },
  { id: 'gmail.452-4.2.2-over-quota', provider: 'gmail', match: { enhanced: '4.2.2' }, class: 'mailbox_full', source: KUMO_BOUNCES },
  { id: 'gmail.552-5.2.2-over-quota', provider: 'gmail', match: { enhanced: '5.2.2' }, class: 'mailbox_full', source: KUMO_BOUNCES },
  { id: 'gmail.550-5.1.1-no-such-user', provider: 'gmail', match: { enhanced: '5.1.1' }, class: 'unknown_user', source: GOOGLE_HELP },
  { id: 'gmail.550-5.7.26-unauthenticated', provider: 'gmail', match: { enhanced: '5.7.26' }, class: 'auth_failure', source: GOOGLE_BULK },
  { id: 'gmail.550-5.7.1-unsolicited', provider: 'gmail', match: { enhanced: '5.7.1', text: 'likely unsolicited mail' }, class: 'content', source: GOOGLE_HELP },
  ...gmailAuthRows(),

  // ---- Microsoft
  { id: 'microsoft.451-4.7.650', provider: 'microsoft', match: { enhanced: '4.7.650' }, class: 'ip_reputation', distinctive: true, source: 'KumoMTA shaping.toml; postmaster.live.com' },
  { id: 'microsoft.550-5.7.708', provider: 'microsoft', match: { enhanced: '5.7.708' }, class: 'blocklisted', distinctive: true, source: MS_NDR },
  { id: 'microsoft.550-5.7.1-S3150', provider: 'microsoft', match: { text: '\\(S3150\\)' }, class: 'blocklisted', distinctive: true, source: KUMO_RULES },
  { id: 'microsoft.550-5.7.606', provider: 'microsoft', match: { enhanced: '5.7.606' }, class: 'blocklisted', distinctive: true, source: 'public samples (banned sending IP)' },
  { id: 'microsoft.550-5.7.515', provider: 'microsoft', match: { enhanced: '5.7.515' }, class: 'auth_failure', distinctive: true, source: 'support.microsoft.com (high-volume sender requirements, May 2025)' },
  { id: 'microsoft.550-5.5.0-mailbox-unavailable', provider: 'microsoft', match: { code: 550, enhanced: '5.5.0', text: 'mailbox unavailable' }, class: 'unknown_user', source: KUMO_BOUNCES },
  { id: 'microsoft.550-5.4.1-recipient-rejected', provider: 'microsoft', match: { enhanced: '5.4.1', text: 'recipient address rejected' }, class: 'unknown_user', source: 'learn.microsoft.com (Directory-Based Edge Blocking)' },

  // ---- Yahoo / AOL
  { id: 'yahoo.421-4.7.0-TSS04', provider: 'yahoo', match: { text: '\\[TSS04\\]' }, class: 'ip_reputation', poolAction: 'suspend_ip_for_provider', distinctive: true, source: `${YAHOO_HELP}; KumoMTA shaping.toml` },
  { id: 'yahoo.421-4.7.0-TSS05', provider: 'yahoo', match: { text: '\\[TSS05\\]' }, class: 'ip_reputation', poolAction: 'suspend_ip_for_provider', distinctive: true, source: KUMO_RULES },
  { id: 'yahoo.421-4.7.0-IPTS05', provider: 'yahoo', match: { text: '\\[IPTS05\\]' }, class: 'ip_reputation', poolAction: 'suspend_ip_for_provider', distinctive: true, source: KUMO_RULES },
  { id: 'yahoo.421-4.7.1-TS03', provider: 'yahoo', match: { text: '\\[TS03\\]' }, class: 'blocklisted', distinctive: true, source: YAHOO_HELP },
  { id: 'yahoo.553-5.7.1-BL', provider: 'yahoo', match: { code: 553, text: '\\[BL\\d*\\]' }, class: 'blocklisted', distinctive: true, source: KUMO_RULES },
  // "This mailbox is disabled (554.30)" before the generic "delivery error" row below.
  { id: 'yahoo.554-30-disabled', provider: 'yahoo', match: { code: 554, text: 'mailbox is disabled|\\(554\\.30\\)' }, class: 'mailbox_disabled', source: KUMO_BOUNCES },
  { id: 'yahoo.554-delivery-error', provider: 'yahoo', match: { code: 554, text: 'delivery error' }, class: 'unknown_user', source: KUMO_BOUNCES },

  // ---- Any provider: stable wording seen across receivers (postlane heuristics)
  { id: 'any.dnsbl-listed', provider: '*', match: { text: 'spamhaus|blocked using|(listed|is) (in|on) (a |the |our )?(dns)?(rbl|blacklist|blocklist|block list)' }, class: 'blocklisted', source: 'postlane heuristic (DNSBL wording)' },
  // Throttles sent as 5xx still defer: the table decides before the first digit.
  { id: 'any.rate-limit-wording', provider: '*', match: { text: 'rate.?limit|too many (messages|connections|sessions)|throttl|sending too (fast|quickly)' }, class: 'rate_limited', source: 'postlane heuristic' },
  // Exchange's 421 4.3.2 and similar: a cap on concurrent sessions, which fewer connections fix.
  { id: 'any.concurrent-connections', provider: '*', match: { text: 'concurrent (server )?connections|maximum number of (concurrent )?connections' }, class: 'rate_limited', source: 'learn.microsoft.com (Exchange 421 4.3.2 connection limits)' },
  { id: 'any.over-quota-wording', provider: '*', match: { text: 'over quota|quota exceeded|mailbox (is )?full' }, class: 'mailbox_full', source: 'postlane heuristic' },
  { id: 'any.unknown-user-wording', provider: '*', match: { codeClass: 5, text: 'user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|recipient not found|mailbox not found' }, class: 'unknown_user', source: 'postlane heuristic' },
  { id: 'any.starttls-required', provider: '*', match: { text: 'must issue a starttls|tls required|encryption required' }, class: 'policy', source: 'RFC 3207 §4 (server may require STARTTLS)' },
];

// ---- RFC 3463 fallbacks (class.subject.detail first, then class.subject)

/** X.S.D or X.S keyed; the first digit comes from the reply. RFC 3463 §3 and RFC 7372. */
const ENHANCED_FALLBACK: Record<string, ReplyClass | { 4: ReplyClass; 5: ReplyClass }> = {
  '1.1': 'unknown_user', // RFC 3463: bad destination mailbox address
  '1.6': 'unknown_user', // RFC 3463: destination mailbox has moved, no forwarding address
  '1.10': 'unknown_user', // RFC 7505: recipient address has null MX
  '2.1': 'mailbox_disabled', // RFC 3463: mailbox disabled, not accepting messages
  '2.2': 'mailbox_full', // RFC 3463: mailbox full
  '2.3': 'policy', // RFC 3463: message length exceeds administrative limit
  '3.4': 'policy', // RFC 3463: message too big for system
  '4.5': 'rate_limited', // RFC 3463: mail system congestion
  '7.1': 'policy', // RFC 3463: delivery not authorized, message refused
  '7.20': 'auth_failure', // RFC 7372: no passing DKIM signature found
  '7.21': 'auth_failure', // RFC 7372: no acceptable DKIM signature found
  '7.22': 'auth_failure', // RFC 7372: no valid author-matched DKIM signature found
  '7.23': 'auth_failure', // RFC 7372: SPF validation failed
  '7.24': 'auth_failure', // RFC 7372: SPF validation error
  '7.25': 'auth_failure', // RFC 7372: reverse DNS validation failed
  '7.26': 'auth_failure', // RFC 7372: multiple authentication checks failed
  // By subject (RFC 3463 §3.1–3.8):
  '1': { 4: 'other_transient', 5: 'other_permanent' }, // addressing
  '2': { 4: 'other_transient', 5: 'other_permanent' }, // mailbox
  '3': { 4: 'other_transient', 5: 'other_permanent' }, // mail system
  '4': { 4: 'network', 5: 'other_permanent' }, // network and routing
  '5': { 4: 'other_transient', 5: 'other_permanent' }, // mail delivery protocol
  '6': { 4: 'content', 5: 'content' }, // message content or media
  '7': { 4: 'policy', 5: 'policy' }, // security or policy
};

/** RFC 5321 §4.2.2/§4.2.3 basic codes, for replies without an enhanced code. */
const BASIC_FALLBACK: Record<number, ReplyClass> = {
  421: 'other_transient', // service not available, closing transmission channel
  450: 'other_transient', // mailbox unavailable (busy, or blocked for policy reasons)
  451: 'other_transient', // local error in processing
  452: 'other_transient', // insufficient system storage (also "too many recipients", §4.5.3.1.10)
  // 550 without an enhanced code is as often a policy block as an unknown user: no suppression
  // on the digit alone (the wording rows above catch "user unknown").
  550: 'other_permanent', // mailbox unavailable
  551: 'other_permanent', // user not local
  552: 'mailbox_full', // exceeded storage allocation
  553: 'other_permanent', // mailbox name not allowed
  554: 'other_permanent', // transaction failed
};

// ---- classify

export interface ClassifyContext {
  provider: string;
  error?: string | null;
  stage?: string | null;
}

export interface Classification {
  class: ReplyClass;
  /** The table row, or `rfc3463.<code>` / `rfc5321.<code>` / `network.*` for fallbacks. */
  rule: string;
  outcome: Outcome;
  schedule: RetrySchedule;
  suppressRecipient: boolean;
  poolAction: PoolAction;
  signal: BreakerSignal;
  source: string;
}

export interface ClassifierTable {
  rules: ReplyRule[];
  classes: Record<ReplyClass, ClassPolicy>;
}
export const DEFAULT_CLASSIFIER: ClassifierTable = { rules: REPLY_RULES, classes: CLASS_POLICY };

const scheduleCache = new WeakMap<HumanRetrySchedule, RetrySchedule>();
function numericSchedule(h: HumanRetrySchedule): RetrySchedule {
  let s = scheduleCache.get(h);
  if (!s) {
    s = toRetrySchedule(h);
    scheduleCache.set(h, s);
  }
  return { ...s };
}

function ruleMatches(rule: ReplyRule, reply: SmtpReply): boolean {
  if (rule.match.codeClass !== undefined && Math.floor(reply.code / 100) !== rule.match.codeClass) return false;
  return replyMatches(rule.match, reply);
}

function findRule(rules: ReplyRule[], reply: SmtpReply, provider: string): ReplyRule | undefined {
  return (
    rules.find((r) => r.provider === provider && ruleMatches(r, reply)) ??
    // An unambiguous provider marker (4.7.650, [TSS04]) beats generic wording.
    rules.find((r) => r.distinctive && r.provider !== provider && ruleMatches(r, reply)) ??
    rules.find((r) => r.provider === '*' && ruleMatches(r, reply))
  );
}

function build(
  table: ClassifierTable,
  cls: ReplyClass,
  rule: string,
  source: string,
  code: number | null,
  row?: Pick<ReplyRule, 'outcome' | 'poolAction' | 'signal'>,
): Classification {
  const p = table.classes[cls];
  const outcome: Outcome = row?.outcome ?? (p.outcome === 'by_code' ? (code !== null && code >= 500 ? 'bounced' : 'deferred') : p.outcome);
  return {
    class: cls,
    rule,
    outcome,
    schedule: numericSchedule(p.schedule),
    // Only a bounce suppresses: a deferred unknown-user (4.1.1) may still resolve.
    suppressRecipient: p.suppressRecipient && outcome === 'bounced',
    poolAction: row?.poolAction ?? p.poolAction,
    signal: row?.signal ?? p.signal,
    source,
  };
}

/**
 * Classify one delivery reply. `reply === null` means no SMTP reply at all (connection refused,
 * timeout, DNS failure, TLS handshake): a `network` deferral.
 */
export function classifyReply(reply: SmtpReply | null, ctx: ClassifyContext, table: ClassifierTable = DEFAULT_CLASSIFIER): Classification {
  if (reply === null) {
    const stage = (ctx.stage ?? 'conn').toLowerCase().replace(/[^a-z0-9]+/g, '_');
    return build(table, 'network', `network.${stage}`, ctx.error ? `no reply: ${ctx.error}` : 'no reply', null);
  }
  // A 2xx/3xx here is a caller mistake; treat it as transient rather than guessing a bounce.
  if (reply.code < 400) return build(table, 'other_transient', `rfc5321.${reply.code}`, 'RFC 5321 §4.2', reply.code);

  const row = findRule(table.rules, reply, ctx.provider);
  if (row) return build(table, row.class, row.id, row.source, reply.code, row);

  // RFC 3463: the enhanced code's class digit should agree with the basic code; when it does
  // not, the basic code wins for the outcome (RFC 3463 §2: "must be consistent").
  if (reply.enhanced) {
    const [, subject, detail] = reply.enhanced.split('.');
    const digit = reply.code >= 500 ? 5 : 4;
    for (const key of [`${subject}.${detail}`, subject]) {
      const hit = ENHANCED_FALLBACK[key];
      if (hit === undefined) continue;
      const cls = typeof hit === 'string' ? hit : hit[digit];
      return build(table, cls, `rfc3463.x.${key}`, 'RFC 3463', reply.code);
    }
  }
  const basic = BASIC_FALLBACK[reply.code];
  if (basic) return build(table, basic, `rfc5321.${reply.code}`, 'RFC 5321 §4.2.3', reply.code);
  const cls: ReplyClass = reply.code >= 500 ? 'other_permanent' : 'other_transient';
  return build(table, cls, `rfc5321.${Math.floor(reply.code / 100)}xx`, 'RFC 5321 §4.2.1', reply.code);
}

// ---- operator overrides

const POOL_ACTIONS = ['none', 'throttle', 'slow_start', 'suspend_ip_for_provider', 'pause_domain'] as const;
const SIGNALS = ['block', 'bounce', 'throttle', 'none'] as const;

const ReplyRuleSchema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  provider: v.pipe(v.string(), v.regex(/^(\*|[a-z0-9][a-z0-9_-]{0,63})$/, 'expected a provider key or "*"')),
  match: v.pipe(
    v.strictObject({
      code: v.optional(v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599))),
      enhanced: v.optional(v.pipe(v.string(), v.regex(/^[45]\.\d{1,3}\.\d{1,3}$/))),
      text: v.optional(regexSource),
      codeClass: v.optional(v.picklist([4, 5])),
    }),
    v.check((m) => m.code !== undefined || m.enhanced !== undefined || m.text !== undefined, 'match needs code, enhanced or text'),
  ),
  class: v.picklist(REPLY_CLASSES),
  distinctive: v.optional(v.boolean()),
  outcome: v.optional(v.picklist(['deferred', 'bounced'])),
  poolAction: v.optional(v.picklist(POOL_ACTIONS)),
  signal: v.optional(v.picklist(SIGNALS)),
  source: v.pipe(v.string(), v.minLength(1)),
});

const ClassPolicyOverrideSchema = v.strictObject({
  outcome: v.optional(v.picklist(['deferred', 'bounced', 'by_code'])),
  schedule: v.optional(v.partial(HumanRetryScheduleSchema)),
  suppressRecipient: v.optional(v.boolean()),
  poolAction: v.optional(v.picklist(POOL_ACTIONS)),
  signal: v.optional(v.picklist(SIGNALS)),
});

export const ClassifierOverridesSchema = v.strictObject({
  /** Operator rows: an existing id is replaced in place; new rows go first, so they win. */
  rules: v.optional(v.array(ReplyRuleSchema)),
  classes: v.optional(v.strictObject(Object.fromEntries(REPLY_CLASSES.map((c) => [c, v.optional(ClassPolicyOverrideSchema)])) as Record<ReplyClass, v.OptionalSchema<typeof ClassPolicyOverrideSchema, undefined>>)),
});

/** The shipped classifier with an operator's rows and class changes on top, validated. */
export function loadClassifier(overrides: unknown = {}, base: ClassifierTable = DEFAULT_CLASSIFIER): ClassifierTable {
  const r = v.safeParse(ClassifierOverridesSchema, overrides ?? {});
  if (!r.success) {
    const text = formatIssues(r.issues);
    throw new PolicyValidationError(`invalid classifier policy: ${text}`, text.split('; '));
  }
  const classes = { ...base.classes };
  for (const [cls, o] of Object.entries(r.output.classes ?? {}) as Array<[ReplyClass, v.InferOutput<typeof ClassPolicyOverrideSchema> | undefined]>) {
    if (!o) continue;
    const merged: ClassPolicy = { ...classes[cls], ...o, schedule: { ...classes[cls].schedule, ...o.schedule } };
    try {
      toRetrySchedule(merged.schedule);
    } catch (e) {
      throw new PolicyValidationError(`invalid classifier policy: classes.${cls}.schedule: ${(e as Error).message}`, [`classes.${cls}.schedule`]);
    }
    classes[cls] = merged;
  }
  let rules = [...base.rules];
  const added: ReplyRule[] = [];
  for (const row of (r.output.rules ?? []) as ReplyRule[]) {
    const i = rules.findIndex((x) => x.id === row.id);
    if (i >= 0) rules[i] = row;
    else added.push(row);
  }
  rules = [...added, ...rules];
  return { rules, classes };
}
