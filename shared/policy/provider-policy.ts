/**
 * Building and checking a policy from provider records: schema-validate each record, naming its
 * file and key path (`providers/yahoo.json: retry.ip_reputation.initial: …`), then check what
 * spans records (rule ids unique, `other` without domains, every layered retry schedule valid).
 * Also the retry layering and the compiled-regex cache the lookups share.
 */
import * as v from 'valibot';
import { REPLY_CLASSES, type ReplyClass } from './reply-classes.ts';
import { toRetrySchedule, type HumanRetrySchedule } from './retry.ts';
import { formatIssues } from './units.ts';
import {
  emptyProvider,
  GenericRecordSchema,
  OTHER_PROVIDER,
  ProviderKeySchema,
  ProviderRecordSchema,
  refuse,
  type ClassPolicy,
  type GenericRules,
  type ProviderDefinition,
  type ProviderRetry,
  type ReplyRow,
  type ShapingPolicy,
} from './provider-record.ts';

// ---------------------------------------------------------------------------------------------
// Building and checking a policy from records

/** Keys whose value is undefined are dropped, so a partial never blanks a key by spreading. */
export function defined<T extends object>(o: T | undefined): Partial<T> {
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
export function regexFor(src: string): RegExp {
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
export function checkPolicy(policy: ShapingPolicy, path: (key: string | null) => string): string[] {
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
    if (!v.is(ProviderKeySchema, key)) {
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
  providers[OTHER_PROVIDER] ??= emptyProvider('Any other receiver', 'postlane default');
  const { shaping, ...rules } = g.output;
  const policy: ShapingPolicy = { default: shaping, generic: rules as GenericRules, providers };
  const more = checkPolicy(policy, file);
  return more.length ? refuse('provider records', more) : policy;
}
