/**
 * Provider-aware reply classification (SPEC §4). Reply rules map real provider replies to a
 * class; each class carries what to do: bounce or defer, the retry schedule, whether the
 * recipient is suppressed, what happens to the pool, and which breaker signal it feeds.
 *
 * The rules, the classes and every retry schedule are data in the provider records
 * (shared/policy/providers/*.json, loaded by providers.ts, whose header says where to change a
 * provider's retry schedule); `classifierFor(policy)` flattens a policy's records into the
 * table this module matches against, so the shipped table and an operator's merged one come
 * from the same records. Only the RFC 3463 / RFC 5321 fallbacks below, which hold no provider
 * knowledge, are code.
 *
 * Matching order: the recipient provider's rules, then rules of other providers whose markers
 * are unambiguous (a Microsoft 365 custom domain whose MX we did not resolve still says
 * 4.7.650), then generic wording rules for any provider, then RFC 3463 enhanced codes by
 * class.subject.detail and class.subject, then the RFC 5321 basic code. The rules decide before
 * the first digit: a provider that answers a throttle with 5xx is deferred, not bounced.
 *
 * Facts: the provider-replies reference gathered for the spec (shared reference notes); every rule names its source.
 */
import * as v from 'valibot';
import type { SmtpReply } from '../protocol.ts';
import {
  DEFAULT_SHAPING_POLICY,
  PolicyValidationError,
  ReplyRuleSchema,
  RetryOverrideSchema,
  ShapingOverridesSchema,
  layeredRetry,
  loadShapingPolicy,
  replyMatches,
  type ClassPolicy,
  type ProviderRetry,
  type ReplyRow,
  type ShapingPolicy,
} from './providers.ts';
import { BREAKER_SIGNALS, POOL_ACTIONS, REPLY_CLASSES, type BreakerSignal, type Outcome, type PoolAction, type ReplyClass } from './reply-classes.ts';
import { toRetrySchedule, type RetrySchedule } from './retry.ts';
import { formatIssues } from './units.ts';

export { REPLY_CLASSES, type BreakerSignal, type ClassPolicy, type Outcome, type PoolAction, type ReplyClass };

/** A reply rule of the flat table: a record's reply rule with its record's key ('*' = generic). */
export interface ReplyRule extends ReplyRow {
  /** Provider key of the record the rule comes from, or '*' for the generic record. */
  provider: string;
}

export interface ClassifierTable {
  /** Every record's rules, providers in record order, then the generic rules. */
  rules: ReplyRule[];
  classes: Record<ReplyClass, ClassPolicy>;
  /** Each provider record's `retry` block (schedules per class). */
  retry?: Record<string, ProviderRetry>;
}

const tables = new WeakMap<ShapingPolicy, ClassifierTable>();

/** The classifier table of a policy's records (shipped, or merged with an operator's overrides). */
export function classifierFor(policy: ShapingPolicy = DEFAULT_SHAPING_POLICY): ClassifierTable {
  let table = tables.get(policy);
  if (!table) {
    const providers = Object.entries(policy.providers);
    table = {
      rules: [
        ...providers.flatMap(([provider, p]) => p.replies.map((r): ReplyRule => ({ ...r, provider }))),
        ...policy.generic.replies.map((r): ReplyRule => ({ ...r, provider: '*' })),
      ],
      classes: policy.generic.classes,
      retry: Object.fromEntries(providers.filter(([, p]) => Object.keys(p.retry).length > 0).map(([k, p]) => [k, p.retry])),
    };
    tables.set(policy, table);
  }
  return table;
}

export const DEFAULT_CLASSIFIER: ClassifierTable = classifierFor(DEFAULT_SHAPING_POLICY);
/** The shipped reply rules, flattened from the provider records. */
export const REPLY_RULES: ReplyRule[] = DEFAULT_CLASSIFIER.rules;
/** The shipped class policies (providers/_generic.json `classes`). */
export const CLASS_POLICY: Record<ReplyClass, ClassPolicy> = DEFAULT_CLASSIFIER.classes;

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
  // on the digit alone (the generic wording rules in providers/_generic.json catch "user unknown").
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
  /** The reply rule's id, or `rfc3463.<code>` / `rfc5321.<code>` / `network.*` for fallbacks. */
  rule: string;
  outcome: Outcome;
  schedule: RetrySchedule;
  suppressRecipient: boolean;
  poolAction: PoolAction;
  signal: BreakerSignal;
  source: string;
}

const scheduleCache = new WeakMap<ClassifierTable, Map<string, RetrySchedule>>();
/**
 * The numeric schedule for a class: the generic class's, layered with the provider record's
 * `retry[class]` and the rule's `retry` (providers.ts `layeredRetry`). The provider is the
 * rule's own record, or for generic rules and fallbacks the recipient's. Always a copy.
 */
function scheduleFor(table: ClassifierTable, cls: ReplyClass, provider: string, row?: ReplyRule): RetrySchedule {
  const owner = row && row.provider !== '*' ? row.provider : provider;
  const providerRetry = table.retry?.[owner]?.[cls] ? table.retry[owner] : undefined;
  const key = `${providerRetry ? owner : ''}\n${cls}\n${row?.retry ? row.id : ''}`;
  let cache = scheduleCache.get(table);
  if (!cache) scheduleCache.set(table, (cache = new Map()));
  let s = cache.get(key);
  if (!s) {
    s = toRetrySchedule(layeredRetry(table.classes, cls, providerRetry, row));
    cache.set(key, s);
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
  ctx: ClassifyContext,
  cls: ReplyClass,
  rule: string,
  source: string,
  code: number | null,
  row?: ReplyRule,
): Classification {
  const p = table.classes[cls];
  const outcome: Outcome = row?.outcome ?? (p.outcome === 'by_code' ? (code !== null && code >= 500 ? 'bounced' : 'deferred') : p.outcome);
  return {
    class: cls,
    rule,
    outcome,
    schedule: scheduleFor(table, cls, ctx.provider, row),
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
    return build(table, ctx, 'network', `network.${stage}`, ctx.error ? `no reply: ${ctx.error}` : 'no reply', null);
  }
  // A 2xx/3xx here is a caller mistake; treat it as transient rather than guessing a bounce.
  if (reply.code < 400) return build(table, ctx, 'other_transient', `rfc5321.${reply.code}`, 'RFC 5321 §4.2', reply.code);

  const row = findRule(table.rules, reply, ctx.provider);
  if (row) return build(table, ctx, row.class, row.id, row.source, reply.code, row);

  // RFC 3463: the enhanced code's class digit should agree with the basic code; when it does
  // not, the basic code wins for the outcome (RFC 3463 §2: "must be consistent").
  if (reply.enhanced) {
    const [, subject, detail] = reply.enhanced.split('.');
    const digit = reply.code >= 500 ? 5 : 4;
    for (const key of [`${subject}.${detail}`, subject]) {
      const hit = ENHANCED_FALLBACK[key];
      if (hit === undefined) continue;
      const cls = typeof hit === 'string' ? hit : hit[digit];
      return build(table, ctx, cls, `rfc3463.x.${key}`, 'RFC 3463', reply.code);
    }
  }
  const basic = BASIC_FALLBACK[reply.code];
  if (basic) return build(table, ctx, basic, `rfc5321.${reply.code}`, 'RFC 5321 §4.2.3', reply.code);
  const cls: ReplyClass = reply.code >= 500 ? 'other_permanent' : 'other_transient';
  return build(table, ctx, cls, `rfc5321.${Math.floor(reply.code / 100)}xx`, 'RFC 5321 §4.2.1', reply.code);
}

// ---- operator overrides

/** The classifier's own override keys, kept from before the records (rules as a flat list, classes with `schedule`). */
const ClassPolicyOverrideSchema = v.strictObject({
  outcome: v.optional(v.picklist(['deferred', 'bounced', 'by_code'])),
  schedule: v.optional(RetryOverrideSchema),
  suppressRecipient: v.optional(v.boolean()),
  poolAction: v.optional(v.picklist(POOL_ACTIONS)),
  signal: v.optional(v.picklist(BREAKER_SIGNALS)),
});

/**
 * What `loadClassifier` accepts: the shaping override document (`default`, `generic`,
 * `providers`: the record shape, see providers.ts) and, as before the records, `rules` (flat,
 * each naming its `provider` or '*') and `classes` (per class, with `schedule`).
 */
export const ClassifierOverridesSchema = v.strictObject({
  ...ShapingOverridesSchema.entries,
  /** Operator rules: an existing id is replaced in place; new rules go first, so they win. */
  rules: v.optional(v.array(ReplyRuleSchema)),
  classes: v.optional(
    v.strictObject(
      Object.fromEntries(REPLY_CLASSES.map((c) => [c, v.optional(ClassPolicyOverrideSchema)])) as Record<
        ReplyClass,
        v.OptionalSchema<typeof ClassPolicyOverrideSchema, undefined>
      >,
    ),
  ),
});

type Doc = { default?: unknown; generic?: Record<string, unknown>; providers?: Record<string, Record<string, unknown>> };
const refuse = (issues: string[]): never => {
  throw new PolicyValidationError(`invalid classifier policy: ${issues.join('; ')}`, issues);
};

/**
 * The classifier of the shipped records with an operator's overrides on top, validated: the
 * same merged records `loadShapingPolicy` makes of the same document, so
 * `loadClassifier(doc)` classifies as `classifierFor(loadShapingPolicy(doc))` does. The flat
 * `rules` and `classes` keys are put into the records they belong to first.
 */
export function loadClassifier(overrides: unknown = {}, base: ShapingPolicy = DEFAULT_SHAPING_POLICY): ClassifierTable {
  const r = v.safeParse(ClassifierOverridesSchema, overrides ?? {});
  if (!r.success) return refuse(formatIssues(r.issues).split('; '));
  const { rules, classes, ...rest } = r.output;
  const doc = structuredClone(rest) as Doc;
  const generic = (doc.generic ??= {});
  const providers = (doc.providers ??= {});

  for (const [cls, o] of Object.entries(classes ?? {}) as Array<[ReplyClass, v.InferOutput<typeof ClassPolicyOverrideSchema> | undefined]>) {
    if (!o) continue;
    const { schedule, ...policy } = o;
    const into = ((generic.classes ??= {}) as Record<string, Record<string, unknown>>)[cls] ?? {};
    const retry = { ...(into.retry as object | undefined), ...schedule };
    try {
      toRetrySchedule({ ...base.generic.classes[cls].retry, ...retry });
    } catch (e) {
      return refuse([`classes.${cls}.schedule: ${(e as Error).message}`]);
    }
    (generic.classes as Record<string, unknown>)[cls] = { ...into, ...policy, retry };
  }

  const recordOf = (key: string) => (key === '*' ? base.generic.replies : base.providers[key]?.replies);
  const overrideOf = (key: string): Record<string, unknown> | undefined => (key === '*' ? generic : providers[key]);
  for (const [i, { provider, ...row }] of (rules ?? []).entries()) {
    if (provider !== '*' && !base.providers[provider] && !providers[provider])
      return refuse([`rules.${i}.provider: no provider record "${provider}" (add it under providers)`]);
    // A rule that moves to another record leaves the one that held it.
    const holder = ['*', ...Object.keys(base.providers)].find((k) => recordOf(k)?.some((x) => x.id === row.id));
    if (holder !== undefined && holder !== provider) {
      const at = holder === '*' ? generic : (providers[holder] ??= {});
      at.disableReplies = [...((at.disableReplies as string[] | undefined) ?? []), row.id];
    }
    const at = overrideOf(provider) ?? (providers[provider] = {});
    at.replies = [...((at.replies as unknown[] | undefined) ?? []), row];
  }

  try {
    return classifierFor(loadShapingPolicy(doc, base));
  } catch (e) {
    if (e instanceof PolicyValidationError) return refuse(e.issues);
    throw e;
  }
}
