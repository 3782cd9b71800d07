/**
 * The operator override document (POSTLANE_SHAPING_FILE on Node, the SHAPING_POLICY var in the
 * Worker): the provider record shape, every key optional, plus `disableReplies` /
 * `disableAutomation`. Validated like the records (unknown keys refused, naming the key path),
 * then merged key by key over the shipped records: rules whose id exists replace it in place,
 * new reply rules go first (so they win), new automation rules last.
 */
import * as v from 'valibot';
import type { ReplyClass } from './reply-classes.ts';
import { checkPolicy, defined } from './provider-policy.ts';
import {
  emptyProvider,
  NoteSchema as note,
  OTHER_PROVIDER,
  PartialShapingSchema,
  ProviderKeySchema as providerKey,
  ProviderRecordEntries,
  ReplyRowSchema,
  RetryOverrideSchema,
  RuleIdSchema as ruleId,
  SourceSchema as source,
  classPolicyEntries,
  perClass,
  refuse,
  type AutomationRule,
  type ClassPolicy,
  type GenericRules,
  type ProviderDefinition,
  type ProviderRetry,
  type ReplyRow,
  type RetryOverride,
  type ShapingPolicy,
} from './provider-record.ts';

// ---------------------------------------------------------------------------------------------
// Schema: the record shape, every key optional

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
export type ParsedOverrides = v.InferOutput<typeof ShapingOverridesSchema>;

// ---------------------------------------------------------------------------------------------
// Merge over the shipped records

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

/** `base` with the parsed override document merged over it; throws PolicyValidationError naming key paths. */
export function applyOverrides(base: ShapingPolicy, o: ParsedOverrides): ShapingPolicy {
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
    const merged: ProviderDefinition = existing ?? emptyProvider(key, 'operator');
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
