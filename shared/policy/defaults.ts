/**
 * The lane / pool / tenant policy document: data, with its schema, safe defaults, and
 * `resolvePolicy` that merges the layers for one message. Layers, most general first:
 *
 *   built-in defaults → document defaults → lane → tenant → tenant's lane
 *     → tenant's sending domain (parent domains first) → that domain's lane
 *
 * Objects merge key by key (so `breaker: { minVolume: 50 }` keeps the other thresholds);
 * arrays and null replace. The loader rejects unknown keys with the key path.
 *
 * Safe defaults, after the seed article: each lane its own pools, no spillover into shared
 * pools ("fully isolated pools by default for any domain that sends transactional mail"),
 * warm-up on, outreach held to small batches in business hours with stricter breakers.
 */
import * as v from 'valibot';
import { DEFAULT_AIMD, type AimdPolicy } from './aimd.ts';
import { DEFAULT_BREAKER, type BreakerPolicy } from './breaker.ts';
import { DEFAULT_OUTREACH_GUARD, WEEKDAYS, type OutreachGuard, type SendWindow } from './constraints.ts';
import { clampToFloor, floorViolations, type FloorViolation } from './floor.ts';
import { PolicyValidationError } from './providers.ts';
import { DEFAULT_LANE_WEIGHTS, LANES, type Lane, type LaneWeights } from './scheduler.ts';
import { DurationSchema, PositiveRateSchema, formatIssues } from './units.ts';
import { DEFAULT_WARMUP, type WarmupPlan } from './warmup.ts';
import { DEFAULT_QUOTA, DEFAULT_ROGUE, type QuotaPolicy } from './quota.ts';

export interface LanePolicy {
  /** Pools this traffic leaves from, in preference order. */
  pools: string[];
  dedicatedOnly: boolean;
  allowSharedSpillover: boolean;
  ipv4Only: boolean;
  /** Regions the mail may leave from; null = any. */
  regions: string[] | null;
  /** Send only inside this window in the recipient's time zone; null = any time. */
  sendWindow: SendWindow | null;
  /** Delivery rate per tenant in this lane (token bucket at the lease hub); null: no cap of its own. */
  tenantRate: string | null;
  /** Delivery rate per sender domain in this lane (token bucket at the lease hub); null: no cap. */
  senderDomainRate: string | null;
  breaker: BreakerPolicy;
  aimd: AimdPolicy;
  warmup: { enabled: boolean; plan: WarmupPlan };
  /** Outreach guard-rails; null outside the outreach lane. */
  outreach: OutreachGuard | null;
  /** Quota guards (SPEC §7): daily caps per tenant and sending domain, rogue-batch holds (shared/policy/quota.ts). */
  quota: QuotaPolicy;
  /**
   * Open and click tracking (SPEC §7), off by default. `firstTouch`: whether outreach to a recipient
   * never delivered to before is tracked too (seed 001: no link tracking on initial touches).
   */
  tracking: { opens: boolean; clicks: boolean; firstTouch: boolean };
}

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> | (null extends T[K] ? null : never) } : T;
export type PolicyLayer = DeepPartial<LanePolicy>;

export interface PolicyDocument {
  laneWeights?: Partial<LaneWeights>;
  defaults?: PolicyLayer;
  lanes?: Partial<Record<Lane, PolicyLayer>>;
  tenants?: Record<string, TenantPolicy>;
  /**
   * The tenant whose `defaults` and `lanes` layers, over this document's, are the floor every
   * other tenant's policy is held to (the edge sets the operator's tenant). Not part of a loaded
   * document: set by whoever assembles the layers.
   */
  floor?: string;
}

export interface TenantPolicy {
  defaults?: PolicyLayer;
  lanes?: Partial<Record<Lane, PolicyLayer>>;
  domains?: Record<string, PolicyLayer & { lanes?: Partial<Record<Lane, PolicyLayer>> }>;
}

export const BUILTIN_POLICY: LanePolicy = {
  pools: [],
  dedicatedOnly: false,
  allowSharedSpillover: false,
  ipv4Only: false,
  regions: null,
  sendWindow: null,
  // Provider budgets, AIMD and breakers pace mail by default; a tenant or domain cap is a choice.
  tenantRate: null,
  senderDomainRate: null,
  breaker: DEFAULT_BREAKER,
  aimd: DEFAULT_AIMD,
  warmup: { enabled: true, plan: DEFAULT_WARMUP },
  outreach: null,
  quota: DEFAULT_QUOTA,
  tracking: { opens: false, clicks: false, firstTouch: false },
};

export const DEFAULT_POLICY_DOCUMENT: PolicyDocument = {
  laneWeights: DEFAULT_LANE_WEIGHTS,
  defaults: {},
  lanes: {
    // Codes and receipts never wait for a person's approval: a rogue-batch hold is for bulk lanes.
    transactional: { pools: ['transactional'], quota: { rogue: null } },
    lifecycle: { pools: ['lifecycle'] },
    outreach: {
      pools: ['outreach'],
      sendWindow: DEFAULT_OUTREACH_GUARD.businessHours,
      tenantRate: '60/min',
      outreach: DEFAULT_OUTREACH_GUARD,
      // Seed article: "Early campaigns start with hundreds, not tens of thousands".
      quota: { dailyCap: 200 },
      // Cold mail: trip earlier, and warm up slower.
      breaker: { minVolume: 100, slowStartOn: { complaintRate: 0.001, bounceRate: 0.03, blocks: 3 }, openOn: { complaintRate: 0.003, bounceRate: 0.08, blocks: 10 } },
      warmup: { plan: { growth: 1.25 } },
    },
  },
  tenants: {},
};

// ---------------------------------------------------------------------------------------------
// Schema

const name = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a lower-case name'));
const ratio = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const int = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min));
const hhmm = v.pipe(v.string(), v.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected "HH:MM"'));
const domainName = v.pipe(v.string(), v.regex(/^([a-z0-9-]+\.)+[a-z0-9-]+$/, 'expected a lower-case domain'));
const tenantKey = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

const SendWindowSchema = v.strictObject({ days: v.array(v.picklist(WEEKDAYS)), start: hhmm, end: hhmm });
const thresholds = v.partial(v.strictObject({ complaintRate: ratio, bounceRate: ratio, blocks: int(1) }));
const warmupLimits = v.partial(v.strictObject({ complaintRate: ratio, blockRate: ratio, bounceRate: ratio }));
const perProvider = v.record(name, int(0));

/**
 * A partial warm-up plan (shared/policy/warmup.ts) over the one it layers on: the policy's
 * `warmup.plan` and the warm-up API's plan overrides both validate with this one schema.
 */
export const WarmupPlanSchema = v.partial(
  v.strictObject({
    day1: perProvider,
    growth: v.pipe(v.number(), v.minValue(1), v.maxValue(3)),
    table: v.record(name, v.array(int(0))),
    maxDaily: perProvider,
    hold: warmupLimits,
    stepBack: warmupLimits,
    stepBackDays: int(0),
    minUtilisation: ratio,
    spreadOver: DurationSchema,
    spacingJitter: ratio,
  }),
);

const QuotaSchema = v.partial(
  v.strictObject({
    dailyCap: v.nullable(int(0)),
    domainDailyCap: v.nullable(int(0)),
    timeZone: v.pipe(v.string(), v.check(isTimeZone, 'expected an IANA time zone like "Europe/Paris"')),
    rogue: v.nullable(v.partial(v.strictObject({ multiple: v.pipe(v.number(), v.minValue(1)), minVolume: int(0) }))),
  }),
);

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const LayerSchema = v.strictObject({
  pools: v.optional(v.array(name)),
  dedicatedOnly: v.optional(v.boolean()),
  allowSharedSpillover: v.optional(v.boolean()),
  ipv4Only: v.optional(v.boolean()),
  regions: v.optional(v.nullable(v.array(name))),
  sendWindow: v.optional(v.nullable(SendWindowSchema)),
  tenantRate: v.optional(v.nullable(PositiveRateSchema)),
  senderDomainRate: v.optional(v.nullable(PositiveRateSchema)),
  breaker: v.optional(
    v.partial(
      v.strictObject({
        window: DurationSchema,
        bucket: DurationSchema,
        minVolume: int(0),
        slowStartOn: thresholds,
        openOn: thresholds,
        coolDown: DurationSchema,
        slowStartInterval: DurationSchema,
        floor: PositiveRateSchema,
        full: PositiveRateSchema,
      }),
    ),
  ),
  aimd: v.optional(
    v.partial(
      v.strictObject({
        floor: PositiveRateSchema,
        ceiling: PositiveRateSchema,
        start: PositiveRateSchema,
        decreaseFactor: v.pipe(v.number(), v.gtValue(0), v.ltValue(1)),
        increase: PositiveRateSchema,
        acceptsPerIncrease: int(1),
        increaseInterval: DurationSchema,
        decreaseHoldoff: DurationSchema,
      }),
    ),
  ),
  warmup: v.optional(
    v.partial(
      v.strictObject({
        enabled: v.boolean(),
        plan: WarmupPlanSchema,
      }),
    ),
  ),
  outreach: v.optional(
    v.nullable(
      v.partial(
        v.strictObject({
          batchSize: int(1),
          businessHours: SendWindowSchema,
          pauseOnComplaintRate: ratio,
          pauseMinVolume: int(0),
          verification: v.picklist(['reject', 'flag']),
        }),
      ),
    ),
  ),
  quota: v.optional(QuotaSchema),
  tracking: v.optional(v.partial(v.strictObject({ opens: v.boolean(), clicks: v.boolean(), firstTouch: v.boolean() }))),
});

const laneLayers = v.partial(v.strictObject({ transactional: LayerSchema, lifecycle: LayerSchema, outreach: LayerSchema }));

export const PolicyDocumentSchema = v.strictObject({
  laneWeights: v.optional(v.partial(v.strictObject({ transactional: int(0), lifecycle: int(0), outreach: int(0) }))),
  defaults: v.optional(LayerSchema),
  lanes: v.optional(laneLayers),
  tenants: v.optional(
    v.record(
      tenantKey,
      v.strictObject({
        defaults: v.optional(LayerSchema),
        lanes: v.optional(laneLayers),
        domains: v.optional(v.record(domainName, v.strictObject({ ...LayerSchema.entries, lanes: v.optional(laneLayers) }))),
      }),
    ),
  ),
});

/**
 * An operator's document over the shipped one (same shape, partial). Throws
 * PolicyValidationError naming each bad key path.
 */
export function loadPolicyDocument(input: unknown, base: PolicyDocument = DEFAULT_POLICY_DOCUMENT): PolicyDocument {
  const r = v.safeParse(PolicyDocumentSchema, input ?? {});
  if (!r.success) {
    const text = formatIssues(r.issues);
    throw new PolicyValidationError(`invalid policy document: ${text}`, text.split('; '));
  }
  return merge(base, r.output as PolicyDocument) as PolicyDocument;
}

// ---------------------------------------------------------------------------------------------
// Resolve

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Objects merge key by key; arrays, null and scalars replace; undefined leaves the base. */
function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, val] of Object.entries(over)) out[k] = merge(out[k], val);
  return out as T;
}

export interface ResolvedPolicy extends LanePolicy {
  /** Layers applied, general to specific, for "why does this message go there". */
  layers: string[];
  laneWeights: LaneWeights;
  /** Fields the floor held (shared/policy/floor.ts); present only when it held any. */
  clamped?: string[];
}

/** Parent domains of a sending domain, most general first: a.b.example.com → example.com, b.example.com, a.b.example.com. */
function domainChain(domain: string): string[] {
  const labels = domain.toLowerCase().replace(/\.$/, '').split('.');
  const out: string[] = [];
  for (let i = labels.length - 2; i >= 0; i--) out.push(labels.slice(i).join('.'));
  return out;
}

export function resolvePolicy(doc: PolicyDocument, at: { tenantId: string; lane: Lane; domain?: string | null }): ResolvedPolicy {
  if (!LANES.includes(at.lane)) throw new RangeError(`unknown lane "${at.lane}"`);
  const layers: Array<[string, unknown]> = [
    ['defaults', doc.defaults],
    [`lanes.${at.lane}`, doc.lanes?.[at.lane]],
  ];
  const tenant = doc.tenants?.[at.tenantId];
  if (tenant) {
    const t = `tenants.${at.tenantId}`;
    layers.push([`${t}.defaults`, tenant.defaults], [`${t}.lanes.${at.lane}`, tenant.lanes?.[at.lane]]);
    for (const d of at.domain ? domainChain(at.domain) : []) {
      const domainLayer = tenant.domains?.[d];
      if (!domainLayer) continue;
      const { lanes, ...own } = domainLayer;
      layers.push([`${t}.domains.${d}`, own], [`${t}.domains.${d}.lanes.${at.lane}`, lanes?.[at.lane]]);
    }
  }
  let policy: LanePolicy = BUILTIN_POLICY;
  const applied: string[] = ['builtin'];
  for (const [label, layer] of layers) {
    if (layer === undefined) continue;
    policy = merge(policy, layer);
    applied.push(label);
  }
  const laneWeights = { ...DEFAULT_LANE_WEIGHTS, ...doc.laneWeights };
  // Dedicated-only means no spillover, whatever a broader layer said.
  if (policy.dedicatedOnly) policy = { ...policy, allowSharedSpillover: false };
  // A partial outreach block on a lane that had none fills from the shipped guard-rails.
  if (policy.outreach) policy = { ...policy, outreach: { ...DEFAULT_OUTREACH_GUARD, ...policy.outreach } };
  // Likewise a rogue block set where a broader layer had switched it off.
  if (policy.quota.rogue) policy = { ...policy, quota: { ...policy.quota, rogue: { ...DEFAULT_ROGUE, ...policy.quota.rogue } } };
  // Operator policy is a floor: a stored tenant layer looser than it (the operator may have
  // tightened since the tenant's PUT) is held to it here, wherever the policy is resolved.
  let clamped: string[] = [];
  if (doc.floor !== undefined && at.tenantId !== doc.floor) {
    ({ policy, clamped } = clampToFloor(policy, floorPolicy(doc, at.lane)));
    if (clamped.length > 0) applied.push(`floor:tenants.${doc.floor}`);
    if (policy.dedicatedOnly) policy = { ...policy, allowSharedSpillover: false };
  }
  return { ...policy, layers: applied, laneWeights, ...(clamped.length > 0 ? { clamped } : {}) };
}

/** The floor for a lane: the document's layers and the floor tenant's defaults and lane (not its own sending domains). */
function floorPolicy(doc: PolicyDocument, lane: Lane): LanePolicy {
  const owner = doc.floor === undefined ? undefined : doc.tenants?.[doc.floor];
  const { layers: _l, laneWeights: _w, ...floor } = resolvePolicy({ ...doc, floor: undefined, tenants: owner ? { [doc.floor!]: { defaults: owner.defaults, lanes: owner.lanes } } : {} }, { tenantId: doc.floor ?? '', lane });
  return floor;
}

/**
 * What a tenant's document would loosen below the floor, each with the document path of the
 * layer that sets it (`lanes.outreach.outreach.dailyCap`), for every lane and every sending
 * domain the document names. Fields the tenant does not set are not its doing (the floor holds
 * them at resolution) and are not reported.
 */
export function tenantFloorViolations(doc: PolicyDocument, tenantId: string): Array<FloorViolation & { field: string }> {
  const tenant = doc.tenants?.[tenantId];
  if (doc.floor === undefined || tenantId === doc.floor || !tenant) return [];
  const out: Array<FloorViolation & { field: string }> = [];
  const seen = new Set<string>();
  const unclamped = { ...doc, floor: undefined };
  for (const lane of LANES) {
    const floor = floorPolicy(doc, lane);
    for (const domain of [null, ...Object.keys(tenant.domains ?? {})]) {
      const layers: Array<[string, unknown]> = [['defaults', tenant.defaults], [`lanes.${lane}`, tenant.lanes?.[lane]]];
      for (const d of domain ? domainChain(domain) : []) {
        const { lanes, ...own } = tenant.domains?.[d] ?? {};
        if (tenant.domains?.[d]) layers.push([`domains.${d}`, own], [`domains.${d}.lanes.${lane}`, lanes?.[lane]]);
      }
      const { layers: _l, laneWeights: _w, ...policy } = resolvePolicy(unclamped, { tenantId, lane, domain });
      for (const violation of floorViolations(policy, floor)) {
        const field = blame(layers, violation.path.split('.'));
        if (!field || seen.has(field)) continue;
        seen.add(field);
        out.push({ ...violation, field });
      }
    }
  }
  return out;
}

/** The most specific layer that sets a path, or one of its parents to something that is not an object (null). */
function blame(layers: Array<[string, unknown]>, keys: string[]): string | null {
  for (const [label, layer] of [...layers].reverse()) {
    let at: unknown = layer;
    for (let i = 0; i < keys.length; i++) {
      if (!isPlainObject(at) || !(keys[i] in at)) break;
      at = at[keys[i]];
      if (i === keys.length - 1 || !isPlainObject(at)) return `${label}.${keys.slice(0, i + 1).join('.')}`;
    }
  }
  return null;
}

/**
 * The plan a warm-up runs: the lane's plan when the warm-up belongs to a lane (outreach warms
 * slower), else the document's defaults, with the warm-up's own overrides on top. Overrides must
 * already have passed WarmupPlanSchema.
 */
export function resolveWarmupPlan(doc: PolicyDocument, at: { tenantId: string; lane: Lane | null }, overrides: Record<string, unknown> = {}): WarmupPlan {
  const base = at.lane
    ? resolvePolicy(doc, { tenantId: at.tenantId, lane: at.lane }).warmup.plan
    : merge(merge(BUILTIN_POLICY, doc.defaults), doc.tenants?.[at.tenantId]?.defaults).warmup.plan;
  return merge(base, overrides);
}
