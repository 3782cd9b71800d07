/**
 * Provider records: everything Postlane knows about one mailbox provider is one JSON file in
 * `shared/policy/providers/` (KumoMTA's shaping.toml as the model). This module loads them.
 *
 *   providers/<key>.json     one provider: recipient domains, MX patterns, shaping (connections,
 *                            rates per IP and per pool), reply rules (pattern → class, with any
 *                            retry schedule of their own), retry schedules per reply class, and
 *                            automation rules ("suspend this IP for Yahoo 2h")
 *   providers/_generic.json  what applies to every provider: the default shaping, the reply
 *                            classes (outcome, retry schedule, pool action, breaker signal) and
 *                            the reply wording seen across receivers
 *
 * WHERE TO CHANGE A PROVIDER'S RETRY SCHEDULE: in its one file, e.g. providers/yahoo.json.
 *   every Yahoo reply of a class:  "retry": { "ip_reputation": { "initial": "1h", "max": "8h" } }
 *   one reply rule only:           "replies": [{ "id": "yahoo.421-4.7.0-TSS04", …, "retry": { "initial": "2h" } }]
 *   a class, for every provider:   providers/_generic.json "classes": { "ip_reputation": { "retry": { … } } }
 * Schedules are partial and layer, general to specific: the _generic class's schedule, then the
 * provider's "retry" for that class, then the matched rule's "retry". The provider is the rule's
 * own (a Microsoft rule uses microsoft.json even for an unrecognised recipient), else the
 * recipient's (generic wording and RFC fallbacks use the recipient provider's "retry").
 *
 * Loading: the files are imported statically (JSON modules, which tsx on Node and esbuild in the
 * Worker bundle both inline), validated against the record schemas below with unknown keys
 * refused by file and key path, their regular expressions (strings in JSON) compiled, and every
 * retry schedule checked; a bad shipped file fails at import and names itself. Adding a
 * provider is a new file plus one line in SHIPPED_RECORDS. Numbers whose record says
 * `postlane default` are our conservative starting points, not published by the provider.
 *
 * Operators never edit the files: `loadShapingPolicy(overrides)` (POSTLANE_SHAPING_FILE on Node,
 * the SHAPING_POLICY var in the Worker) layers a document of the same record shape on top,
 *
 *   { "default":  { <shaping keys> },                       (same as "generic.shaping")
 *     "generic":  { <any keys of _generic.json>, "disableReplies": [ids] },
 *     "providers": { "<key>": { <any keys of a provider file>, "disableReplies": [ids], "disableAutomation": [ids] } } }
 *
 * validated the same way (unknown keys refused, naming the key path), merged key by key over
 * the shipped record; rules whose id exists replace it in place, new reply rules go first (so
 * they win), new automation rules last. The classifier reads the same merged records
 * (`classifierFor(policy)`, `loadClassifier(overrides)` in classifier.ts).
 */
import * as v from 'valibot';
import type { SmtpReply } from '../protocol.ts';
import { BREAKER_SIGNALS, POOL_ACTIONS, REPLY_CLASSES, type BreakerSignal, type Outcome, type PoolAction, type ReplyClass } from './reply-classes.ts';
import { HumanRetryScheduleSchema, toRetrySchedule, type HumanRetrySchedule } from './retry.ts';
import { DurationSchema, RateSchema, formatIssues, parseThreshold } from './units.ts';
import generic from './providers/_generic.json' with { type: 'json' };
import gmail from './providers/gmail.json' with { type: 'json' };
import microsoft from './providers/microsoft.json' with { type: 'json' };
import yahoo from './providers/yahoo.json' with { type: 'json' };
import apple from './providers/apple.json' with { type: 'json' };
import comcast from './providers/comcast.json' with { type: 'json' };
import gmx from './providers/gmx.json' with { type: 'json' };
import orange from './providers/orange.json' with { type: 'json' };
import mailru from './providers/mailru.json' with { type: 'json' };
import yandex from './providers/yandex.json' with { type: 'json' };
import qq from './providers/qq.json' with { type: 'json' };
import zoho from './providers/zoho.json' with { type: 'json' };
import proton from './providers/proton.json' with { type: 'json' };
import fastmail from './providers/fastmail.json' with { type: 'json' };
import other from './providers/other.json' with { type: 'json' };

// ---------------------------------------------------------------------------------------------
// Shape

export interface ProviderShaping {
  /** Concurrent SMTP connections from one source IP to this provider. */
  maxConnectionsPerIp: number;
  /** Messages delivered over one connection before it is closed and reopened. */
  messagesPerConnection: number;
  /** Human rate ("100/min") per source IP to this provider. */
  ratePerIp: string;
  /** Human rate per pool (all its IPs together) to this provider. */
  ratePerPool: string;
}

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
// Schema (shipped records and operator overrides)

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

const disable = v.optional(v.array(ruleId));
const ProviderOverrideSchema = v.strictObject({
  ...Object.fromEntries(Object.entries(ProviderRecordEntries).map(([k, s]) => [k, v.optional(s)])),
  /** Ids of shipped reply rules the operator turns off. */
  disableReplies: disable,
  /** Ids of shipped automation rules the operator turns off. */
  disableAutomation: disable,
} as { [K in keyof typeof ProviderRecordEntries]: v.OptionalSchema<(typeof ProviderRecordEntries)[K], undefined> } & {
  disableReplies: typeof disable;
  disableAutomation: typeof disable;
});
const GenericOverrideSchema = v.strictObject({
  name: v.optional(v.string()),
  shaping: v.optional(PartialShapingSchema),
  classes: v.optional(perClass(v.strictObject({ ...v.partial(v.strictObject(classPolicyEntries)).entries, retry: v.optional(RetryOverrideSchema) }))),
  replies: v.optional(v.array(ReplyRowSchema)),
  disableReplies: disable,
  note: v.optional(note),
  source: v.optional(source),
});

export const ShapingOverridesSchema = v.strictObject({
  /** Generic shaping keys (the same as `generic.shaping`, which is applied after it). */
  default: v.optional(PartialShapingSchema),
  generic: v.optional(GenericOverrideSchema),
  providers: v.optional(v.record(providerKey, ProviderOverrideSchema)),
});
export type ShapingOverrides = v.InferInput<typeof ShapingOverridesSchema>;
type ParsedOverrides = v.InferOutput<typeof ShapingOverridesSchema>;

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

// ---------------------------------------------------------------------------------------------
// Building and checking a policy from records

/** Keys whose value is undefined are dropped, so a partial never blanks a key by spreading. */
function defined<T extends object>(o: T | undefined): Partial<T> {
  return o ? (Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>) : {};
}

/**
 * The retry schedule of a class for one provider and rule, layered general to specific: the
 * generic class, the provider record's `retry[class]`, the rule's `retry`.
 */
export function layeredRetry(
  classes: Record<ReplyClass, ClassPolicy>,
  cls: ReplyClass,
  providerRetry?: ProviderRetry,
  row?: Pick<ReplyRow, 'retry'>,
): HumanRetrySchedule {
  return { ...classes[cls].retry, ...defined(providerRetry?.[cls]), ...defined(row?.retry) };
}

const regexCache = new Map<string, RegExp>();
function regexFor(src: string): RegExp {
  let re = regexCache.get(src);
  if (!re) {
    re = new RegExp(src, 'i');
    regexCache.set(src, re);
  }
  return re;
}

/**
 * What every policy must hold beyond its schema: rule ids unique across records, `other`
 * without domains, every layered retry schedule valid (so classifying never throws). Also
 * compiles each regular expression once. Returns issues as "path: message".
 */
function checkPolicy(policy: ShapingPolicy, path: (key: string | null) => string): string[] {
  const issues: string[] = [];
  const owner = new Map<string, string>();
  const rows: Array<[key: string | null, row: ReplyRow]> = [
    ...Object.entries(policy.providers).flatMap(([k, p]) => p.replies.map((r) => [k, r] as [string, ReplyRow])),
    ...policy.generic.replies.map((r) => [null, r] as [null, ReplyRow]),
  ];
  for (const [key, row] of rows) {
    const seen = owner.get(row.id);
    if (seen !== undefined) issues.push(`${path(key)}replies: rule id "${row.id}" is also in ${seen || 'the generic record'}`);
    else owner.set(row.id, key === null ? '' : `providers.${key}`);
    if (row.match.text !== undefined) regexFor(row.match.text);
  }
  for (const p of Object.values(policy.providers)) for (const r of p.automation) if (r.match.text !== undefined) regexFor(r.match.text);
  const other = policy.providers[OTHER_PROVIDER];
  if (other && (other.domains.length || other.mxSuffixes.length))
    issues.push(`${path(OTHER_PROVIDER)}domains: "other" matches by exclusion and takes no domains or mxSuffixes`);

  const schedule = (where: string, s: HumanRetrySchedule) => {
    try {
      toRetrySchedule(s);
    } catch (e) {
      issues.push(`${where}: ${(e as Error).message}`);
    }
  };
  const { classes } = policy.generic;
  for (const cls of REPLY_CLASSES) schedule(`${path(null)}classes.${cls}.retry`, classes[cls].retry);
  for (const [key, p] of Object.entries(policy.providers)) {
    for (const cls of Object.keys(defined(p.retry)) as ReplyClass[]) schedule(`${path(key)}retry.${cls}`, layeredRetry(classes, cls, p.retry));
    for (const row of p.replies) if (row.retry) schedule(`${path(key)}replies.${row.id}.retry`, layeredRetry(classes, row.class, p.retry, row));
  }
  // A generic rule's schedule layers over the recipient provider's, whichever that is.
  for (const row of policy.generic.replies) {
    if (!row.retry) continue;
    schedule(`${path(null)}replies.${row.id}.retry`, layeredRetry(classes, row.class, undefined, row));
    for (const [key, p] of Object.entries(policy.providers)) {
      if (p.retry[row.class])
        schedule(`${path(null)}replies.${row.id}.retry over ${path(key)}retry.${row.class}`, layeredRetry(classes, row.class, p.retry, row));
    }
  }
  return issues;
}

/**
 * A policy from raw records, as the shipped files are loaded: `generic` in the shape of
 * providers/_generic.json, `records` keyed by provider in the shape of providers/<key>.json
 * (an `other` record is added if missing). Throws PolicyValidationError naming the file
 * (`providers/yahoo.json: retry.ip_reputation.initial: …`).
 */
export function buildShapingPolicy(generic: unknown, records: Record<string, unknown>): ShapingPolicy {
  const issues: string[] = [];
  const file = (key: string | null) => `providers/${key ?? '_generic'}.json: `;
  const g = v.safeParse(GenericRecordSchema, generic);
  if (!g.success)
    issues.push(
      ...formatIssues(g.issues)
        .split('; ')
        .map((i) => file(null) + i),
    );
  const providers: Record<string, ProviderDefinition> = {};
  for (const [key, raw] of Object.entries(records)) {
    if (!v.is(providerKey, key)) {
      issues.push(`${file(key)}provider key must be lower-case letters, digits, - or _`);
      continue;
    }
    const r = v.safeParse(ProviderRecordSchema, raw);
    if (r.success) providers[key] = r.output as ProviderDefinition;
    else
      issues.push(
        ...formatIssues(r.issues)
          .split('; ')
          .map((i) => file(key) + i),
      );
  }
  if (issues.length || !g.success) return refuse('provider records', issues);
  providers[OTHER_PROVIDER] ??= {
    name: 'Any other receiver',
    domains: [],
    mxSuffixes: [],
    shaping: {},
    retry: {},
    replies: [],
    automation: [],
    source: 'postlane default',
  };
  const { shaping, ...rules } = g.output;
  const policy: ShapingPolicy = { default: shaping, generic: rules as GenericRules, providers };
  const more = checkPolicy(policy, file);
  return more.length ? refuse('provider records', more) : policy;
}

/** The shipped records, as imported: one per file in providers/. */
export const SHIPPED_RECORDS: { generic: unknown; providers: Record<string, unknown> } = {
  generic,
  providers: { gmail, microsoft, yahoo, apple, comcast, gmx, orange, mailru, yandex, qq, zoho, proton, fastmail, [OTHER_PROVIDER]: other },
};

export const DEFAULT_SHAPING_POLICY: ShapingPolicy = buildShapingPolicy(SHIPPED_RECORDS.generic, SHIPPED_RECORDS.providers);

// ---------------------------------------------------------------------------------------------
// Operator overrides

/** Rules with a known id replace it in place; new rules go first, or last with `append`. */
function mergeRules<T extends { id: string }>(
  base: readonly T[],
  over: readonly T[] | undefined,
  off: readonly string[] | undefined,
  where: string,
  issues: string[],
  append = false,
): T[] {
  for (const [i, id] of (off ?? []).entries()) if (!base.some((r) => r.id === id)) issues.push(`${where}.${i}: no rule "${id}" to disable`);
  const rules = base.filter((r) => !off?.includes(r.id));
  const added: T[] = [];
  for (const rule of over ?? []) {
    const i = rules.findIndex((r) => r.id === rule.id);
    if (i >= 0) rules[i] = rule;
    else added.push(rule);
  }
  return append ? [...rules, ...added] : [...added, ...rules];
}

function mergeRetry(base: ProviderRetry, over: ProviderRetry | undefined): ProviderRetry {
  const out: ProviderRetry = structuredClone(base);
  for (const [cls, s] of Object.entries(defined(over)) as Array<[ReplyClass, RetryOverride]>) out[cls] = { ...out[cls], ...defined(s) };
  return out;
}

function applyOverrides(base: ShapingPolicy, o: ParsedOverrides): ShapingPolicy {
  const issues: string[] = [];
  const providers: Record<string, ProviderDefinition> = structuredClone(base.providers);
  for (const [key, p] of Object.entries(o.providers ?? {})) {
    const existing = providers[key];
    if (!existing && !p.domains?.length && !p.mxSuffixes?.length) {
      issues.push(`providers.${key}: a new provider needs domains or mxSuffixes`);
      continue;
    }
    if (key === OTHER_PROVIDER && (p.domains?.length || p.mxSuffixes?.length)) {
      issues.push('providers.other: "other" matches by exclusion and takes no domains or mxSuffixes');
      continue;
    }
    const merged: ProviderDefinition = existing ?? {
      name: key,
      domains: [],
      mxSuffixes: [],
      shaping: {},
      retry: {},
      replies: [],
      automation: [],
      source: 'operator',
    };
    providers[key] = {
      name: p.name ?? merged.name,
      domains: p.domains ?? merged.domains,
      mxSuffixes: p.mxSuffixes ?? merged.mxSuffixes,
      shaping: { ...merged.shaping, ...defined(p.shaping) },
      retry: mergeRetry(merged.retry, p.retry as ProviderRetry | undefined),
      replies: mergeRules(merged.replies, p.replies as ReplyRow[] | undefined, p.disableReplies, `providers.${key}.disableReplies`, issues),
      automation: mergeRules(
        merged.automation,
        p.automation as AutomationRule[] | undefined,
        p.disableAutomation,
        `providers.${key}.disableAutomation`,
        issues,
        true,
      ),
      ...((p.note ?? merged.note) !== undefined ? { note: p.note ?? merged.note } : {}),
      source: p.source ?? merged.source,
    };
  }
  const g = o.generic;
  const classes = structuredClone(base.generic.classes);
  for (const [cls, c] of Object.entries(defined(g?.classes)) as Array<[ReplyClass, Partial<ClassPolicy> & { retry?: RetryOverride }]>) {
    classes[cls] = { ...classes[cls], ...defined(c), retry: { ...classes[cls].retry, ...defined(c.retry) } };
  }
  const generic: GenericRules = {
    ...base.generic,
    ...defined({ name: g?.name, note: g?.note, source: g?.source }),
    classes,
    replies: mergeRules(base.generic.replies, g?.replies as ReplyRow[] | undefined, g?.disableReplies, 'generic.disableReplies', issues),
  };
  const policy: ShapingPolicy = { default: { ...base.default, ...defined(o.default), ...defined(g?.shaping) }, generic, providers };
  if (!issues.length) issues.push(...checkPolicy(policy, (key) => (key === null ? 'generic.' : `providers.${key}.`)));
  return issues.length ? refuse('shaping policy', issues) : policy;
}

/**
 * The shipped records with the operator's overrides on top. Throws PolicyValidationError whose
 * message names each bad key path ("providers.gmail.shaping.maxConn: unknown key").
 */
export function loadShapingPolicy(overrides: unknown = {}, base: ShapingPolicy = DEFAULT_SHAPING_POLICY): ShapingPolicy {
  const parsed = v.safeParse(ShapingOverridesSchema, overrides ?? {});
  if (!parsed.success) return refuse('shaping policy', formatIssues(parsed.issues).split('; '));
  return applyOverrides(base, parsed.output);
}

/** A provider's effective shaping: its own keys over the policy's default block. */
export function shapingFor(provider: string, policy: ShapingPolicy = DEFAULT_SHAPING_POLICY): ProviderShaping {
  return { ...policy.default, ...(policy.providers[provider]?.shaping ?? {}) };
}

// ---------------------------------------------------------------------------------------------
// Lookup

/** A TLD, or a second-level registry under a country code (co.uk, com.br, ne.jp). */
const PUBLIC_SUFFIX_SHAPE = /^([a-z]{2,12}|(co|com|net|ne|or|org|ac|gv|gob)\.[a-z]{2})$/;

const normalise = (host: string) => host.trim().toLowerCase().replace(/\.$/, '');

function domainMatches(pattern: string, domain: string): boolean {
  if (!pattern.endsWith('.*')) return pattern === domain;
  // "hotmail.*": the label, then a public suffix (hotmail.com, hotmail.fr, hotmail.co.uk), and
  // not any subdomain of someone else's zone (live.example.com is not Microsoft).
  const label = pattern.slice(0, -1);
  return domain.startsWith(label) && PUBLIC_SUFFIX_SHAPE.test(domain.slice(label.length));
}

function mxMatchLength(pattern: string, host: string): number {
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".google.com"
    return host.endsWith(suffix) && host.length > suffix.length ? suffix.length : 0;
  }
  return pattern === host ? pattern.length + 1 : 0;
}

/**
 * Which provider a recipient belongs to. The recipient domain decides first (exact entries
 * before wildcards); then the MX host, longest matching suffix wins, which is how Google
 * Workspace and Microsoft 365 custom domains are recognised; else `other`.
 */
export function providerFor(recipientDomain: string, mxHost?: string | null, policy: ShapingPolicy = DEFAULT_SHAPING_POLICY): string {
  const domain = normalise(recipientDomain.includes('@') ? recipientDomain.slice(recipientDomain.lastIndexOf('@') + 1) : recipientDomain);
  const entries = Object.entries(policy.providers);
  for (const [key, p] of entries) if (p.domains.some((d) => !d.endsWith('.*') && d === domain)) return key;
  for (const [key, p] of entries) if (p.domains.some((d) => d.endsWith('.*') && domainMatches(d, domain))) return key;
  if (mxHost) {
    const host = normalise(mxHost);
    let best = OTHER_PROVIDER;
    let bestLength = 0;
    for (const [key, p] of entries) {
      for (const pattern of p.mxSuffixes) {
        const n = mxMatchLength(pattern, host);
        if (n > bestLength) {
          best = key;
          bestLength = n;
        }
      }
    }
    return best;
  }
  return OTHER_PROVIDER;
}

/** Whether a reply fits a match block: every given field must agree. */
export function replyMatches(match: ReplyMatch, reply: SmtpReply): boolean {
  if (match.code !== undefined && match.code !== reply.code) return false;
  if (match.enhanced !== undefined && match.enhanced !== reply.enhanced) return false;
  if (match.text !== undefined && !regexFor(match.text).test(reply.text)) return false;
  return true;
}

/** The provider's automation rules that this reply triggers, in record order. */
export function automationFor(provider: string, reply: SmtpReply, policy: ShapingPolicy = DEFAULT_SHAPING_POLICY): AutomationRule[] {
  return (policy.providers[provider]?.automation ?? []).filter((r) => replyMatches(r.match, reply));
}

/**
 * Whether a rule's trigger fires now. `hits` are the times this rule's pattern matched before
 * (for this provider and source IP); the caller keeps them. "immediate" always fires; "3/hr"
 * fires when this match makes three within the last hour.
 */
export function triggerFires(trigger: string, hits: readonly number[], now: number): boolean {
  if (trigger === 'immediate') return true;
  const { count, periodMs } = parseThreshold(trigger);
  return hits.filter((t) => t > now - periodMs && t <= now).length + 1 >= count;
}
