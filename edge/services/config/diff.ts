/**
 * The pure half of configuration as code: the normalised state a document describes, the diff of
 * two states (create / change / delete, each field's before → after), its readable rendering, and
 * the canonical form whose hash names a live state. No I/O: state.ts reads, apply.ts writes.
 */
import type { ConfigDocument, ConfigSection } from '../../../shared/config-schema.ts';

export interface PoolState {
  tenant: string | null;
  description: string | null;
}
export interface IpState {
  pool: string;
  node_token: string | null;
  status: 'active' | 'draining';
}
export interface DomainState {
  dkim_algorithm: 'rsa-sha256' | 'ed25519-sha256';
  return_path_domain: string;
}
export interface WebhookState {
  event_types: string[];
  lanes: string[] | null;
  domains: string[] | null;
  enabled: boolean;
  description: string | null;
}
export type Layer = Record<string, unknown>;

/** Everything a document can say, as it is (or would be) live. `pools`/`ips`: the operator's only. */
export interface ConfigState {
  pools?: Record<string, PoolState>;
  ips?: Record<string, IpState>;
  domains: Record<string, DomainState>;
  lanes: Record<string, Layer>;
  policy: { defaults?: Layer; domains?: Record<string, Layer> };
  webhooks: Record<string, WebhookState>;
}

export type ChangeKind = 'pool' | 'ip' | 'domain' | 'lane' | 'policy' | 'webhook';
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}
export interface ConfigChange {
  action: 'create' | 'change' | 'delete';
  kind: ChangeKind;
  id: string;
  fields: FieldChange[];
  before: unknown;
  after: unknown;
}

/** The state the document asks for: its sections normalised (defaults filled), the live state's for the sections it leaves out. */
export function desiredState(live: ConfigState, doc: ConfigDocument): ConfigState {
  const out: ConfigState = structuredClone(live);
  if (doc.pools) out.pools = mapValues(doc.pools, (p) => ({ tenant: p.tenant ?? null, description: p.description ?? null }));
  if (doc.ips) out.ips = mapValues(doc.ips, (ip) => ({ pool: ip.pool, node_token: ip.node_token ?? null, status: ip.status }));
  if (doc.domains) out.domains = Object.fromEntries(Object.entries(doc.domains).map(([d, v]) => [d, { dkim_algorithm: v.dkim_algorithm, return_path_domain: v.return_path_domain ?? `bounces.${d}` }]));
  if (doc.lanes) out.lanes = doc.lanes;
  if (doc.policy) out.policy = dropUndefined({ defaults: doc.policy.defaults, domains: doc.policy.domains });
  if (doc.webhooks) {
    out.webhooks = mapValues(doc.webhooks, (w) => ({ event_types: w.event_types, lanes: w.lanes ?? null, domains: w.domains ?? null, enabled: w.enabled, description: w.description ?? null }));
  }
  return out;
}

/** The document that describes a state exactly (every section given): what a version keeps, and a rollback plans. */
export function documentOf(state: ConfigState): ConfigDocument {
  return dropUndefined({ version: 1 as const, pools: state.pools, ips: state.ips, domains: state.domains, lanes: state.lanes, policy: state.policy, webhooks: state.webhooks }) as ConfigDocument;
}

const KIND_ORDER: Array<[ChangeKind, (s: ConfigState) => Record<string, unknown> | undefined]> = [
  ['pool', (s) => s.pools],
  ['ip', (s) => s.ips],
  ['domain', (s) => s.domains],
  ['lane', (s) => s.lanes],
  ['policy', (s) => policyEntries(s.policy)],
  ['webhook', (s) => s.webhooks],
];

/** Policy entries by id: `defaults`, `domains.<domain>`. */
function policyEntries(policy: ConfigState['policy']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (policy.defaults !== undefined) out.defaults = policy.defaults;
  for (const [d, layer] of Object.entries(policy.domains ?? {})) out[`domains.${d}`] = layer;
  return out;
}

export function diffStates(before: ConfigState, after: ConfigState): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const [kind, section] of KIND_ORDER) {
    const a = section(before) ?? {};
    const b = section(after) ?? {};
    for (const id of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const had = Object.hasOwn(a, id);
      const has = Object.hasOwn(b, id);
      const fields = diffValues(had ? a[id] : undefined, has ? b[id] : undefined);
      if (had && has && fields.length === 0) continue;
      changes.push({ action: !had ? 'create' : !has ? 'delete' : 'change', kind, id, fields, before: had ? a[id] : null, after: has ? b[id] : null });
    }
  }
  return changes;
}

/** Leaf by leaf (objects walked, arrays and scalars compared whole): `path` is dotted from the entry. */
export function diffValues(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const out: FieldChange[] = [];
    for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) out.push(...diffValues(before[key], after[key], path ? `${path}.${key}` : key));
    return out;
  }
  if (isObject(before) && after === undefined) return diffValues(before, {}, path);
  if (before === undefined && isObject(after)) return diffValues({}, after, path);
  if (canonicalJson(before ?? null) === canonicalJson(after ?? null)) return [];
  return [{ path: path || '(value)', before: before ?? null, after: after ?? null }];
}

const SYMBOL = { create: '+', change: '~', delete: '-' } as const;

/** The plan as a person reads it: one line per resource, one indented line per field. */
export function renderChanges(changes: ConfigChange[]): string {
  if (changes.length === 0) return 'No changes: the live state matches the document.';
  const lines: string[] = [];
  for (const c of changes) {
    lines.push(`${SYMBOL[c.action]} ${c.kind} ${c.id}`);
    for (const f of c.fields) lines.push(`    ${f.path}: ${show(f.before)} → ${show(f.after)}`);
  }
  const count = (a: ConfigChange['action']) => changes.filter((c) => c.action === a).length;
  lines.push('', `${count('create')} to create, ${count('change')} to change, ${count('delete')} to delete.`);
  return lines.join('\n');
}

const show = (v: unknown) => (v === null || v === undefined ? '(none)' : JSON.stringify(v));

/** JSON with object keys sorted at every depth: equal states have equal text (and hash). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObject(value)) return Object.fromEntries(Object.keys(value).sort().filter((k) => value[k] !== undefined).map((k) => [k, sortKeys(value[k])]));
  return value;
}

export function sectionsOf(doc: ConfigDocument): ConfigSection[] {
  return (['pools', 'ips', 'domains', 'lanes', 'policy', 'webhooks'] as const).filter((s) => doc[s] !== undefined);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mapValues<T, U>(record: Record<string, T>, f: (v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
