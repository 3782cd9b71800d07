/**
 * The provider table as data (KumoMTA's shaping file as the model): which recipient domains
 * and MX hosts belong to which mailbox provider, how fast we may talk to each, and automation
 * rules that map a reply pattern to an action for a while ("suspend this IP for Yahoo 2h").
 *
 * Operators never edit this file: `loadShapingPolicy(overrides)` layers their partial document
 * on top, validated, rejecting unknown keys with the key path. Numbers marked
 * `postlane default` are our conservative starting points, not published by the provider.
 */
import * as v from 'valibot';
import type { SmtpReply } from '../protocol.ts';
import { DurationSchema, RateSchema, formatIssues, parseThreshold } from './units.ts';

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
 * the rule expires after `duration` and the shaping returns to the table's values.
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
  /** The published guidance the rule implements. */
  source: string;
}

export interface ProviderDefinition {
  name: string;
  /** Recipient domains, exact ("gmail.com") or label-prefix wildcards ("hotmail.*" = any TLD). */
  domains: string[];
  /** MX host patterns: "*.google.com" matches any host under google.com. */
  mxSuffixes: string[];
  /** Only the keys that differ from the policy's `default` block. */
  shaping: Partial<ProviderShaping>;
  automation: AutomationRule[];
  /** Where the provider's shaping numbers come from. */
  source: string;
}

export interface ShapingPolicy {
  default: ProviderShaping;
  providers: Record<string, ProviderDefinition>;
}

export const OTHER_PROVIDER = 'other';

// ---------------------------------------------------------------------------------------------
// Shipped defaults

const KUMO_SHAPING = 'KumoMTA shaping.toml (community shaping rules)';
const POSTLANE_DEFAULT = 'postlane default';

const alertDelist = (provider: string): AutomationAction => ({
  kind: 'alert',
  message: `source IP listed or banned by ${provider}: request delisting`,
});
const alertAuth: AutomationAction = {
  kind: 'alert',
  message: 'sender domain fails the provider authentication checks: fix SPF, DKIM and DMARC',
};

export const DEFAULT_SHAPING_POLICY: ShapingPolicy = {
  // postlane default: cautious numbers for a provider we know nothing about.
  default: { maxConnectionsPerIp: 10, messagesPerConnection: 100, ratePerIp: '300/min', ratePerPool: '3000/min' },
  providers: {
    gmail: {
      name: 'Gmail / Google Workspace',
      domains: ['gmail.com', 'googlemail.com'],
      mxSuffixes: ['*.google.com', '*.googlemail.com'],
      // KumoMTA: Google at most 5 connections; the rates are postlane defaults.
      shaping: { maxConnectionsPerIp: 5, messagesPerConnection: 50, ratePerIp: '120/min', ratePerPool: '1200/min' },
      automation: [
        {
          id: 'gmail.unusual-rate',
          match: { code: 421, enhanced: '4.7.0', text: 'unusual rate of unsolicited mail' },
          trigger: 'immediate',
          actions: [{ kind: 'set_shaping', duration: '1h', maxConnectionsPerIp: 1, ratePerIp: '10/min' }],
          source: 'support.google.com/a/answer/3726730 (defer, throttle that IP); numbers postlane default',
        },
        {
          id: 'gmail.rate-limited',
          match: { enhanced: '4.7.28' },
          trigger: 'immediate',
          actions: [{ kind: 'set_shaping', duration: '1h', maxConnectionsPerIp: 2, ratePerIp: '20/min' }],
          source: 'smtp.codes/google (4.7.28 IP rate limited); numbers postlane default',
        },
        {
          id: 'gmail.no-auth-info',
          match: { enhanced: '4.7.0', text: 'does not have authentication information' },
          trigger: 'immediate',
          actions: [{ kind: 'pause_domain', duration: '1h' }, alertAuth],
          source: `${KUMO_SHAPING}: defer, alert, hold the domain`,
        },
        {
          id: 'gmail.dmarc-unauthenticated',
          match: { code: 550, enhanced: '5.7.26' },
          trigger: 'immediate',
          actions: [{ kind: 'pause_domain', duration: '4h' }, alertAuth],
          source: 'Google bulk sender guidance (5.7.26 unauthenticated)',
        },
      ],
      source: KUMO_SHAPING,
    },
    microsoft: {
      name: 'Microsoft (Outlook.com, Hotmail, Live, Exchange Online)',
      domains: ['outlook.com', 'outlook.*', 'hotmail.*', 'live.*', 'msn.com', 'windowslive.com'],
      mxSuffixes: ['*.outlook.com', '*.protection.outlook.com', '*.hotmail.com'],
      shaping: { maxConnectionsPerIp: 8, messagesPerConnection: 100, ratePerIp: '120/min', ratePerPool: '1200/min' },
      automation: [
        {
          id: 'microsoft.4.7.650',
          match: { enhanced: '4.7.650' },
          trigger: 'immediate',
          // KumoMTA shaping.toml: after 4.7.650, 1 connection, 1 message per minute for 90 minutes.
          actions: [{ kind: 'set_shaping', duration: '90m', maxConnectionsPerIp: 1, ratePerIp: '1/min' }],
          source: `${KUMO_SHAPING}; postmaster.live.com`,
        },
        {
          id: 'microsoft.5.7.708',
          match: { enhanced: '5.7.708' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '24h' }, alertDelist('Microsoft')],
          source: 'learn.microsoft.com (NDR 5.7.700-5.7.750): stop using that IP for Microsoft',
        },
        {
          id: 'microsoft.S3150',
          match: { text: '\\(S3150\\)|block list \\(S3150' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '24h' }, alertDelist('Microsoft')],
          source: `${KUMO_SHAPING}: suspend IP for the provider, delist`,
        },
        {
          id: 'microsoft.5.7.606',
          match: { enhanced: '5.7.606' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '24h' }, alertDelist('Microsoft')],
          source: 'public samples: banned sending IP, delist via sender portal',
        },
        {
          id: 'microsoft.5.7.515',
          match: { enhanced: '5.7.515' },
          trigger: 'immediate',
          actions: [{ kind: 'pause_domain', duration: '24h' }, alertAuth],
          source: 'support.microsoft.com (high-volume sender authentication, since May 2025)',
        },
      ],
      source: POSTLANE_DEFAULT,
    },
    yahoo: {
      name: 'Yahoo / AOL',
      domains: ['yahoo.*', 'ymail.com', 'rocketmail.com', 'aol.com', 'aim.com'],
      mxSuffixes: ['*.yahoodns.net'],
      // KumoMTA: Yahoo 20 deliveries per connection.
      shaping: { maxConnectionsPerIp: 10, messagesPerConnection: 20, ratePerIp: '120/min', ratePerPool: '1200/min' },
      automation: [
        {
          id: 'yahoo.TSS04',
          match: { text: '\\[TSS04\\]' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '2h' }],
          source: `help.yahoo.com; ${KUMO_SHAPING}: suspend that IP for Yahoo ~2-4h`,
        },
        {
          id: 'yahoo.TSS05',
          match: { text: '\\[(TSS05|IPTS05)\\]' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '4h' }],
          source: `${KUMO_SHAPING}: as TSS04, more severe, suspend ~4h`,
        },
        {
          id: 'yahoo.TS03',
          match: { text: '\\[TS03\\]' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '24h' }, { kind: 'alert', message: 'Yahoo permanently defers this IP (TS03): fix sending practices' }],
          source: 'help.yahoo.com: practices block, stop until fixed',
        },
        {
          id: 'yahoo.BL',
          match: { code: 553, text: '\\[BL\\d*\\]' },
          trigger: 'immediate',
          actions: [{ kind: 'suspend_ip', duration: '24h' }, alertDelist('Yahoo (via Spamhaus)')],
          source: `${KUMO_SHAPING}: IP on a block list, suspend, delist`,
        },
      ],
      source: KUMO_SHAPING,
    },
    apple: {
      name: 'Apple iCloud',
      domains: ['icloud.com', 'me.com', 'mac.com'],
      mxSuffixes: ['*.mail.icloud.com'],
      shaping: { maxConnectionsPerIp: 5, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    comcast: {
      name: 'Comcast (Xfinity)',
      domains: ['comcast.net'],
      mxSuffixes: ['*.comcast.net'],
      shaping: { maxConnectionsPerIp: 2, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    gmx: {
      name: 'GMX / Web.de / mail.com',
      domains: ['gmx.de', 'gmx.net', 'gmx.com', 'gmx.at', 'gmx.ch', 'web.de', 'mail.com'],
      mxSuffixes: ['*.gmx.net', '*.gmx.com', '*.web.de', '*.mail.com'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    orange: {
      name: 'Orange',
      domains: ['orange.fr', 'wanadoo.fr'],
      mxSuffixes: ['*.orange.fr'],
      shaping: { maxConnectionsPerIp: 2, ratePerIp: '30/min', ratePerPool: '300/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    mailru: {
      name: 'Mail.ru',
      domains: ['mail.ru', 'bk.ru', 'inbox.ru', 'list.ru', 'internet.ru'],
      mxSuffixes: ['*.mail.ru'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    yandex: {
      name: 'Yandex',
      domains: ['yandex.ru', 'yandex.com', 'ya.ru', 'yandex.by', 'yandex.kz'],
      mxSuffixes: ['*.yandex.ru', '*.yandex.net'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    qq: {
      name: 'Tencent QQ Mail',
      domains: ['qq.com', 'foxmail.com'],
      mxSuffixes: ['*.qq.com'],
      shaping: { maxConnectionsPerIp: 2, ratePerIp: '30/min', ratePerPool: '300/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    zoho: {
      name: 'Zoho Mail',
      domains: ['zoho.com', 'zohomail.com'],
      mxSuffixes: ['*.zoho.com', '*.zoho.eu', '*.zoho.in'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    proton: {
      name: 'Proton Mail',
      domains: ['proton.me', 'protonmail.com', 'protonmail.ch', 'pm.me'],
      mxSuffixes: ['*.protonmail.ch'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    fastmail: {
      name: 'Fastmail',
      domains: ['fastmail.com', 'fastmail.fm'],
      mxSuffixes: ['*.messagingengine.com'],
      shaping: { maxConnectionsPerIp: 3, ratePerIp: '60/min', ratePerPool: '600/min' },
      automation: [],
      source: POSTLANE_DEFAULT,
    },
    [OTHER_PROVIDER]: {
      name: 'Any other receiver',
      domains: [],
      mxSuffixes: [],
      shaping: {},
      automation: [],
      source: POSTLANE_DEFAULT,
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Schema (for operator overrides)

const count = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const providerKey = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'provider key must be lower-case letters, digits, - or _'));
const domainPattern = v.pipe(v.string(), v.regex(/^([a-z0-9-]+\.)+([a-z0-9-]+|\*)$/, 'expected a domain like "gmail.com" or "hotmail.*"'));
const mxPattern = v.pipe(v.string(), v.regex(/^(\*\.)?([a-z0-9-]+\.)+[a-z0-9-]+$/, 'expected an MX pattern like "*.google.com"'));
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
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  match: v.pipe(
    v.strictObject({
      code: v.optional(count(200, 599)),
      enhanced: v.optional(v.pipe(v.string(), v.regex(/^[245]\.\d{1,3}\.\d{1,3}$/))),
      text: v.optional(regexSource),
    }),
    v.check((m) => m.code !== undefined || m.enhanced !== undefined || m.text !== undefined, 'match needs code, enhanced or text'),
  ),
  trigger: triggerSchema,
  actions: v.pipe(v.array(AutomationActionSchema), v.minLength(1)),
  source: v.pipe(v.string(), v.minLength(1)),
});

const ProviderOverrideSchema = v.strictObject({
  name: v.optional(v.string()),
  domains: v.optional(v.array(domainPattern)),
  mxSuffixes: v.optional(v.array(mxPattern)),
  shaping: v.optional(PartialShapingSchema),
  /** Rules with an id already present replace it; new ids are appended. */
  automation: v.optional(v.array(AutomationRuleSchema)),
  /** Ids of shipped rules the operator turns off. */
  disableAutomation: v.optional(v.array(v.string())),
  source: v.optional(v.string()),
});

export const ShapingOverridesSchema = v.strictObject({
  default: v.optional(PartialShapingSchema),
  providers: v.optional(v.record(providerKey, ProviderOverrideSchema)),
});
export type ShapingOverrides = v.InferInput<typeof ShapingOverridesSchema>;

export class PolicyValidationError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'PolicyValidationError';
  }
}

/**
 * The shipped table with the operator's overrides on top. Throws PolicyValidationError whose
 * message names each bad key path ("providers.gmail.shaping.maxConn: unknown key").
 */
export function loadShapingPolicy(overrides: unknown = {}, base: ShapingPolicy = DEFAULT_SHAPING_POLICY): ShapingPolicy {
  const parsed = v.safeParse(ShapingOverridesSchema, overrides ?? {});
  if (!parsed.success) {
    const text = formatIssues(parsed.issues);
    throw new PolicyValidationError(`invalid shaping policy: ${text}`, text.split('; '));
  }
  const o = parsed.output;
  const providers: Record<string, ProviderDefinition> = structuredClone(base.providers);
  for (const [key, p] of Object.entries(o.providers ?? {})) {
    const existing = providers[key];
    if (!existing && !p.domains?.length && !p.mxSuffixes?.length) {
      throw new PolicyValidationError(`invalid shaping policy: providers.${key}: a new provider needs domains or mxSuffixes`, [
        `providers.${key}: a new provider needs domains or mxSuffixes`,
      ]);
    }
    if (key === OTHER_PROVIDER && (p.domains?.length || p.mxSuffixes?.length)) {
      throw new PolicyValidationError(`invalid shaping policy: providers.other: "other" matches by exclusion and takes no domains`, [
        'providers.other: takes no domains or mxSuffixes',
      ]);
    }
    const merged: ProviderDefinition = existing ?? { name: key, domains: [], mxSuffixes: [], shaping: {}, automation: [], source: 'operator' };
    let automation = merged.automation.filter((r) => !p.disableAutomation?.includes(r.id));
    for (const rule of p.automation ?? []) {
      const i = automation.findIndex((r) => r.id === rule.id);
      if (i >= 0) automation[i] = rule as AutomationRule;
      else automation = [...automation, rule as AutomationRule];
    }
    providers[key] = {
      name: p.name ?? merged.name,
      domains: p.domains ?? merged.domains,
      mxSuffixes: p.mxSuffixes ?? merged.mxSuffixes,
      shaping: { ...merged.shaping, ...p.shaping },
      automation,
      source: p.source ?? merged.source,
    };
  }
  return { default: { ...base.default, ...o.default }, providers };
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

const regexCache = new Map<string, RegExp>();
function regexFor(source: string): RegExp {
  let re = regexCache.get(source);
  if (!re) {
    re = new RegExp(source, 'i');
    regexCache.set(source, re);
  }
  return re;
}

/** Whether a reply fits a match block: every given field must agree. */
export function replyMatches(match: ReplyMatch, reply: SmtpReply): boolean {
  if (match.code !== undefined && match.code !== reply.code) return false;
  if (match.enhanced !== undefined && match.enhanced !== reply.enhanced) return false;
  if (match.text !== undefined && !regexFor(match.text).test(reply.text)) return false;
  return true;
}

/** The provider's automation rules that this reply triggers, in table order. */
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
