/**
 * The provider record schema: the TypeScript shape of providers/<key>.json and
 * providers/_generic.json, and the valibot schemas that validate them (unknown keys refused, the
 * issue naming its key path). Also the error every policy loader throws. The loader itself is
 * providers.ts; building a policy from records is provider-policy.ts; the operator override
 * document, which reuses these schemas, is provider-overrides.ts.
 */
import * as v from 'valibot';
import { BREAKER_SIGNALS, POOL_ACTIONS, REPLY_CLASSES, type BreakerSignal, type Outcome, type PoolAction, type ReplyClass } from './reply-classes.ts';
import { HumanRetryScheduleSchema, type HumanRetrySchedule } from './retry.ts';
import { DurationSchema, RateSchema } from './units.ts';

// ---------------------------------------------------------------------------------------------
// Shape

export interface ProviderShaping {
  /** Concurrent SMTP connections from one source IP to this provider. */
  maxConnectionsPerIp: number;
  /** Messages delivered over one connection before it is closed and reopened. */
  messagesPerConnection: number;
  /** Human rate ("100/min") per source IP to this provider. */
  ratePerIp: string;
  /**
   * Human rate per pool (all its IPs together) to this provider: where the adaptive rate starts.
   * Sustained clean acceptance raises it (AIMD's additive increase) up to `ceiling`.
   */
  ratePerPool: string;
  /**
   * The most the adaptive pool rate climbs to on a healthy receiver ("4800/min"). Absent: four
   * times `ratePerPool` (CEILING_FACTOR). Set it per provider; never below `ratePerPool`.
   */
  ceiling?: string;
}

/** A provider's adaptive ceiling when its record names none: this many times its `ratePerPool`. */
export const CEILING_FACTOR = 4;

/**
 * What an automation rule does when its reply pattern is seen. Durations are human units;
 * the rule expires after `duration` and the shaping returns to the record's values.
 */
export type AutomationAction =
  /** Stop using the source IP that got the reply, for this provider only. */
  | { kind: 'suspend_ip'; duration: string }
  /** Tighten shaping for the source IP and provider for a while. */
  | { kind: 'set_shaping'; duration: string; maxConnectionsPerIp?: number; messagesPerConnection?: number; ratePerIp?: string }
  /** Hold the sender domain's mail to this provider (authentication or domain reputation). */
  | { kind: 'pause_domain'; duration: string }
  /** Tell a human: the platform cannot fix this alone (DNS records, delisting). */
  | { kind: 'alert'; message: string };

export interface ReplyMatch {
  /** Basic reply code (RFC 5321 §4.2), e.g. 421. */
  code?: number;
  /** RFC 3463 enhanced code, exact, e.g. "4.7.650". */
  enhanced?: string;
  /** Case-insensitive regular expression source matched against the reply text. */
  text?: string;
}

export interface AutomationRule {
  id: string;
  match: ReplyMatch;
  /** "immediate", or a threshold rate ("3/hr"): act once the pattern is seen that often. */
  trigger: string;
  actions: AutomationAction[];
  /** Why the rule is as it is, for the next reader (JSON has no comments). */
  note?: string;
  /** The published guidance the rule implements. */
  source: string;
}

/** A partial retry schedule: the keys it gives replace those of the schedule it layers over. */
export type RetryOverride = Partial<HumanRetrySchedule>;
/** Retry schedules per reply class, each partial over the generic class's schedule. */
export type ProviderRetry = Partial<Record<ReplyClass, RetryOverride>>;

/** One reply rule of a record: a reply pattern and what it means. Tried in file order. */
export interface ReplyRow {
  /** Unique across all records; the classification names it (`Classification.rule`). */
  id: string;
  match: ReplyMatch & { /** 4 or 5: first digit of the basic code. */ codeClass?: 4 | 5 };
  class: ReplyClass;
  /** The marker is unambiguous, so the rule also applies when the provider was not recognised. */
  distinctive?: boolean;
  /** Rule-level exceptions to the class policy. */
  outcome?: Outcome;
  poolAction?: PoolAction;
  signal?: BreakerSignal;
  /** This rule's retry schedule, over its class's schedule for the provider. */
  retry?: RetryOverride;
  note?: string;
  source: string;
}

/** A provider record: the content of providers/<key>.json. */
export interface ProviderDefinition {
  name: string;
  /** Recipient domains, exact ("gmail.com") or label-prefix wildcards ("hotmail.*" = any TLD). */
  domains: string[];
  /** MX host patterns: "*.google.com" matches any host under google.com. */
  mxSuffixes: string[];
  /** Only the keys that differ from the generic shaping (the policy's `default` block). */
  shaping: Partial<ProviderShaping>;
  /** Retry schedules per reply class for this provider's replies. */
  retry: ProviderRetry;
  /** This provider's reply rules, tried before the generic ones. */
  replies: ReplyRow[];
  automation: AutomationRule[];
  note?: string;
  /** Where the provider's numbers come from. */
  source: string;
}

/** What a reply class means: bounce or defer, the retry schedule, suppression, pool, breakers. */
export interface ClassPolicy {
  /** `by_code`: 4xx defers, 5xx bounces. A fixed outcome overrides the digit. */
  outcome: Outcome | 'by_code';
  retry: HumanRetrySchedule;
  /** Hard classes: a bounce of this class suppresses the recipient. */
  suppressRecipient: boolean;
  poolAction: PoolAction;
  signal: BreakerSignal;
  note?: string;
}

/** The generic record (providers/_generic.json) without its shaping, which is `default`. */
export interface GenericRules {
  name: string;
  classes: Record<ReplyClass, ClassPolicy>;
  /** Reply rules for any provider, tried after the provider's own. */
  replies: ReplyRow[];
  note?: string;
  source: string;
}

export interface ShapingPolicy {
  /** Shaping for every provider (the generic record's `shaping`); a record's own keys win. */
  default: ProviderShaping;
  /** Reply classes with their retry schedules, and the generic reply rules. */
  generic: GenericRules;
  providers: Record<string, ProviderDefinition>;
}

export const OTHER_PROVIDER = 'other';

// ---------------------------------------------------------------------------------------------
// Schema (shipped records; provider-overrides.ts reuses the parts)

const count = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const providerKey = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'provider key must be lower-case letters, digits, - or _'));
const domainPattern = v.pipe(v.string(), v.regex(/^([a-z0-9-]+\.)+([a-z0-9-]+|\*)$/, 'expected a domain like "gmail.com" or "hotmail.*"'));
const mxPattern = v.pipe(v.string(), v.regex(/^(\*\.)?([a-z0-9-]+\.)+[a-z0-9-]+$/, 'expected an MX pattern like "*.google.com"'));
const ruleId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const note = v.pipe(v.string(), v.maxLength(1000));
const source = v.pipe(v.string(), v.minLength(1));
/** A case-insensitive regular expression source, checked to compile. */
export const regexSource = v.pipe(
  v.string(),
  v.check((s) => {
    try {
      new RegExp(s, 'i');
      return true;
    } catch {
      return false;
    }
  }, 'invalid regular expression'),
);
const triggerSchema = v.union([v.literal('immediate'), RateSchema], 'expected "immediate" or a rate like "3/hr"');
const needsMatch = (m: { code?: number; enhanced?: string; text?: string }) => m.code !== undefined || m.enhanced !== undefined || m.text !== undefined;

/** One optional entry per reply class; any other key is refused. */
function perClass<S extends v.GenericSchema>(schema: S) {
  return v.strictObject(Object.fromEntries(REPLY_CLASSES.map((c) => [c, v.optional(schema)])) as Record<ReplyClass, v.OptionalSchema<S, undefined>>);
}

const ShapingFields = {
  maxConnectionsPerIp: count(1, 1000),
  messagesPerConnection: count(1, 100_000),
  ratePerIp: RateSchema,
  ratePerPool: RateSchema,
  ceiling: v.optional(RateSchema),
};
export const ProviderShapingSchema = v.strictObject(ShapingFields);
const PartialShapingSchema = v.partial(ProviderShapingSchema);

export const AutomationActionSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('suspend_ip'), duration: DurationSchema }),
  v.strictObject({
    kind: v.literal('set_shaping'),
    duration: DurationSchema,
    maxConnectionsPerIp: v.optional(ShapingFields.maxConnectionsPerIp),
    messagesPerConnection: v.optional(ShapingFields.messagesPerConnection),
    ratePerIp: v.optional(RateSchema),
  }),
  v.strictObject({ kind: v.literal('pause_domain'), duration: DurationSchema }),
  v.strictObject({ kind: v.literal('alert'), message: v.pipe(v.string(), v.maxLength(500)) }),
]);

export const AutomationRuleSchema = v.strictObject({
  id: ruleId,
  match: v.pipe(
    v.strictObject({
      code: v.optional(count(200, 599)),
      enhanced: v.optional(v.pipe(v.string(), v.regex(/^[245]\.\d{1,3}\.\d{1,3}$/))),
      text: v.optional(regexSource),
    }),
    v.check(needsMatch, 'match needs code, enhanced or text'),
  ),
  trigger: triggerSchema,
  actions: v.pipe(v.array(AutomationActionSchema), v.minLength(1)),
  note: v.optional(note),
  source,
});

/** A retry schedule with only some keys: `{ "initial": "1h" }`. */
export const RetryOverrideSchema = v.partial(HumanRetryScheduleSchema);
export const ProviderRetrySchema = perClass(RetryOverrideSchema);

const ReplyRowEntries = {
  id: ruleId,
  match: v.pipe(
    v.strictObject({
      code: v.optional(count(400, 599)),
      enhanced: v.optional(v.pipe(v.string(), v.regex(/^[45]\.\d{1,3}\.\d{1,3}$/))),
      text: v.optional(regexSource),
      codeClass: v.optional(v.picklist([4, 5])),
    }),
    v.check(needsMatch, 'match needs code, enhanced or text'),
  ),
  class: v.picklist(REPLY_CLASSES),
  distinctive: v.optional(v.boolean()),
  outcome: v.optional(v.picklist(['deferred', 'bounced'])),
  poolAction: v.optional(v.picklist(POOL_ACTIONS)),
  signal: v.optional(v.picklist(BREAKER_SIGNALS)),
  retry: v.optional(RetryOverrideSchema),
  note: v.optional(note),
  source,
};
/** One entry of a record's `replies`. */
export const ReplyRowSchema = v.strictObject(ReplyRowEntries);
/** A reply rule with the provider it belongs to ('*' = any), as the classifier's flat list holds it. */
export const ReplyRuleSchema = v.strictObject({
  ...ReplyRowEntries,
  provider: v.pipe(v.string(), v.regex(/^(\*|[a-z0-9][a-z0-9_-]{0,63})$/, 'expected a provider key or "*"')),
});

const ProviderRecordEntries = {
  name: v.pipe(v.string(), v.minLength(1)),
  domains: v.array(domainPattern),
  mxSuffixes: v.array(mxPattern),
  shaping: PartialShapingSchema,
  retry: ProviderRetrySchema,
  replies: v.array(ReplyRowSchema),
  automation: v.array(AutomationRuleSchema),
  note: v.optional(note),
  source,
};
/** providers/<key>.json: every key but `note` present. */
export const ProviderRecordSchema = v.strictObject(ProviderRecordEntries);

const classPolicyEntries = {
  outcome: v.picklist(['deferred', 'bounced', 'by_code']),
  retry: HumanRetryScheduleSchema,
  suppressRecipient: v.boolean(),
  poolAction: v.picklist(POOL_ACTIONS),
  signal: v.picklist(BREAKER_SIGNALS),
  note: v.optional(note),
};
export const ClassPolicySchema = v.strictObject(classPolicyEntries);
/** providers/_generic.json: every class present. */
export const GenericRecordSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1)),
  shaping: ProviderShapingSchema,
  classes: v.strictObject(Object.fromEntries(REPLY_CLASSES.map((c) => [c, ClassPolicySchema])) as Record<ReplyClass, typeof ClassPolicySchema>),
  replies: v.array(ReplyRowSchema),
  note: v.optional(note),
  source,
});

// ---------------------------------------------------------------------------------------------
// Errors

/** A policy that fails validation; `issues` are "path: message", the path naming the key (and file). */
/** A provider with nothing of its own yet: the shipped catch-all, or one an operator adds. */
export function emptyProvider(name: string, source: string): ProviderDefinition {
  return { name, domains: [], mxSuffixes: [], shaping: {}, retry: {}, replies: [], automation: [], source };
}

export class PolicyValidationError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'PolicyValidationError';
  }
}

const refuse = (what: string, issues: string[]): never => {
  throw new PolicyValidationError(`invalid ${what}: ${issues.join('; ')}`, issues);
};

/** Building blocks the operator override schema (provider-overrides.ts) reuses. */
export {
  PartialShapingSchema,
  ProviderRecordEntries,
  classPolicyEntries,
  note as NoteSchema,
  perClass,
  providerKey as ProviderKeySchema,
  refuse,
  ruleId as RuleIdSchema,
  source as SourceSchema,
};
