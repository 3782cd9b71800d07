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
 * Worker bundle both inline), validated against the record schemas with unknown keys
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
 *
 * By concern: provider-record.ts holds the record shape and schemas (and PolicyValidationError),
 * provider-policy.ts builds and checks a policy from records, provider-overrides.ts the operator
 * document and its merge. This module is the public API: the shipped records and policy,
 * loadShapingPolicy, and the lookups; it re-exports what importers use from the others.
 */
import * as v from 'valibot';
import type { SmtpReply } from '../protocol.ts';
import { ShapingOverridesSchema, applyOverrides } from './provider-overrides.ts';
import { buildShapingPolicy, regexFor } from './provider-policy.ts';
import { OTHER_PROVIDER, refuse, type AutomationRule, type ProviderShaping, type ReplyMatch, type ShapingPolicy } from './provider-record.ts';
import { formatIssues, parseThreshold } from './units.ts';
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

export {
  AutomationActionSchema,
  AutomationRuleSchema,
  CEILING_FACTOR,
  ClassPolicySchema,
  GenericRecordSchema,
  OTHER_PROVIDER,
  PolicyValidationError,
  ProviderRecordSchema,
  ProviderRetrySchema,
  ProviderShapingSchema,
  ReplyRowSchema,
  ReplyRuleSchema,
  RetryOverrideSchema,
  regexSource,
  type AutomationAction,
  type AutomationRule,
  type ClassPolicy,
  type GenericRules,
  type ProviderDefinition,
  type ProviderRetry,
  type ProviderShaping,
  type ReplyMatch,
  type ReplyRow,
  type RetryOverride,
  type ShapingPolicy,
} from './provider-record.ts';
export { buildShapingPolicy, layeredRetry } from './provider-policy.ts';
export { ShapingOverridesSchema, type ShapingOverrides } from './provider-overrides.ts';

// ---------------------------------------------------------------------------------------------
// The shipped policy

/** The shipped records, as imported: one per file in providers/. */
export const SHIPPED_RECORDS: { generic: unknown; providers: Record<string, unknown> } = {
  generic,
  providers: { gmail, microsoft, yahoo, apple, comcast, gmx, orange, mailru, yandex, qq, zoho, proton, fastmail, [OTHER_PROVIDER]: other },
};

export const DEFAULT_SHAPING_POLICY: ShapingPolicy = buildShapingPolicy(SHIPPED_RECORDS.generic, SHIPPED_RECORDS.providers);

// ---------------------------------------------------------------------------------------------
// Loading with operator overrides

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
