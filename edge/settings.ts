/**
 * The edge's settings, one schema for both runtimes: the Node entry reads them from the
 * environment, the Worker from its vars and secrets (wrangler.toml, `wrangler secret put`), under
 * the same `POSTLANE_` names. Each setting says where it applies (`settingMeta`); a setting of
 * the other runtime is not read. A bad value stops start-up with a line naming the variable.
 * README.md's Settings table and wrangler.toml's [vars] are checked against this schema
 * (test/unit/settings.test.ts).
 *
 * Pure: no I/O (a shaping file is read through the hook the Node adapter passes), so the Worker
 * bundle parses the same schema.
 */
import { z } from 'zod';
import { parseRate } from '../shared/policy/units.ts';
import { loadShapingPolicy, type ShapingPolicy } from '../shared/policy/providers.ts';
import { fromBase64 } from '../shared/ids.ts';
import { parseCidr } from './webhooks/ssrf.ts';
import type { AppConfig } from './ports/app.ts';

export type Runtime = 'node' | 'worker';
export const RUNTIME_NAMES: Record<Runtime, string> = { node: 'Node', worker: 'Workers' };

export interface SettingMeta {
  /** Where the setting is read; on the other runtime it is ignored. */
  runtimes: readonly Runtime[];
  /** Must be given on these runtimes. */
  requiredOn?: readonly Runtime[];
  /** This runtime's default, where it differs from the schema's (a string, parsed like a value). */
  defaultOn?: Partial<Record<Runtime, string>>;
  /** A check that holds on one runtime only; returns the problem, or null. */
  checkOn?: Partial<Record<Runtime, (value: string) => string | null>>;
  /** Workers: a secret (`wrangler secret put`), never a [vars] entry. */
  secret?: boolean;
}

/** Each setting's metadata, keyed by its schema. */
export const settingMeta = z.registry<SettingMeta>();

const BOTH = ['node', 'worker'] as const;
const NODE = ['node'] as const;
const WORKER = ['worker'] as const;
const setting = <T extends z.ZodType>(schema: T, meta: SettingMeta): T => {
  settingMeta.add(schema as z.ZodType, meta);
  return schema;
};

// ---- one set of value helpers -------------------------------------------------------------

const bool = z.enum(['true', 'false', '1', '0'], { error: 'must be true, false, 1 or 0' }).transform((v) => v === 'true' || v === '1');

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** `5000/s`, `300000/min`, `18000000/h` (shared/policy/units.ts) or a bare number: per second. */
export function parseRateSetting(text: string): number | null {
  const s = text.trim();
  let perSec: number;
  if (/^\d+(\.\d+)?$/.test(s)) perSec = Number(s);
  else {
    try {
      perSec = parseRate(s);
    } catch {
      return null;
    }
  }
  return perSec > 0 && Number.isFinite(perSec) ? perSec : null;
}

const rate = z.string().transform((text, ctx) => {
  const perSec = parseRateSetting(text);
  if (perSec === null) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a positive rate: give N/s, N/min, N/h or a bare number (per second)` });
    return z.NEVER;
  }
  return perSec;
});

const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item));

/** The embedded node's `--ip` syntax; the address itself is checked by mta-node/config.ts. */
const sourceIp = z.string().regex(/^[^=\s]+=[^=\s]+(=[^=\s]+)?$/, { error: (issue) => `"${issue.input}" must be ADDR=POOL[=EHLO]` });
const resolverAddress = z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, { error: (issue) => `"${issue.input}" must be host[:port]` });

const hostName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/, { error: (issue) => `"${issue.input}" must be a host name like spf.example.net` });

const REGION_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const region = z.string().regex(REGION_RE, 'must be lowercase letters, digits, - or _ (at most 64)');

/** The shaping overrides document (shared/policy/providers.ts) from its JSON text; throws what is wrong. */
export function parseShapingDocument(text: string): ShapingPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message}); give the shaping overrides document`);
  }
  return loadShapingPolicy(doc);
}

const shapingJson = z.string().transform((text, ctx) => {
  try {
    return parseShapingDocument(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

function masterKeyProblem(text: string): string | null {
  try {
    const bytes = fromBase64(text.trim()).length;
    return bytes === 32 ? null : `must be base64 of 32 bytes (got ${bytes}); make one with: openssl rand -base64 32`;
  } catch {
    return 'must be base64 of 32 bytes (not base64); make one with: openssl rand -base64 32';
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type SettingsLogLevel = (typeof LOG_LEVELS)[number];

// ---- the schema ---------------------------------------------------------------------------

export const SettingsSchema = z.object({
  // Where the Node edge listens.
  PORT: setting(int(0, 65535).default(8787), { runtimes: NODE }),
  HOST: setting(z.string().min(1).default('127.0.0.1'), { runtimes: NODE }),
  /** Database file, generated keys, the embedded node's journal. */
  POSTLANE_DATA_DIR: setting(z.string().min(1).default('.postlane'), { runtimes: NODE }),

  /** libSQL: `file:` (Node only), `http(s)://` or `libsql://` (sqld, Turso). Node: a file in the data dir when unset. */
  POSTLANE_DB_URL: setting(z.string().regex(/^(file:|https?:\/\/|libsql:\/\/|wss?:\/\/)/i, 'must be a file:, http(s)://, libsql:// or ws(s):// URL').optional(), {
    runtimes: BOTH,
    requiredOn: WORKER,
    checkOn: { worker: (v) => (/^(https?|libsql):\/\//i.test(v) ? null : 'must be an http(s):// or libsql:// URL (Workers reach libSQL over HTTP)') },
  }),
  POSTLANE_DB_AUTH_TOKEN: setting(z.string().optional(), { runtimes: BOTH, secret: true }),
  /** base64 of 32 bytes; seals DKIM private keys. Node: generated into the data dir when unset. */
  POSTLANE_MASTER_KEY: setting(
    z
      .string()
      .refine((v) => masterKeyProblem(v) === null, { error: (issue) => masterKeyProblem(String(issue.input)) ?? 'invalid' })
      .optional(),
    { runtimes: BOTH, requiredOn: WORKER, secret: true },
  ),

  // Node: the bootstrap tenant and the embedded MTA node.
  POSTLANE_API_KEY: setting(z.string().min(16, 'must be at least 16 characters').optional(), { runtimes: NODE }),
  POSTLANE_NODE_TOKEN: setting(z.string().min(16, 'must be at least 16 characters').optional(), { runtimes: NODE }),
  POSTLANE_EMBEDDED_NODE: setting(bool.default(true), { runtimes: NODE }),
  /** The embedded node's source IPs, `ADDR=POOL[=EHLO]`, comma-separated. */
  POSTLANE_NODE_IPS: setting(list(sourceIp).pipe(z.array(z.string()).min(1, 'name at least one source IP')).default(['127.0.0.1=default']), { runtimes: NODE }),
  POSTLANE_NODE_ID: setting(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -').default('embedded'), { runtimes: NODE }),
  /** Region of the embedded node and its token. */
  POSTLANE_REGION: setting(region.default('local'), { runtimes: NODE }),
  /** Workers: every region with a lease hub; unconstrained work is offered to each. */
  POSTLANE_REGIONS: setting(list(region).pipe(z.array(z.string()).min(1, 'name at least one region')).default(['default']), { runtimes: WORKER }),

  POSTLANE_LOG_LEVEL: setting(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'), { runtimes: BOTH }),
  POSTLANE_MAX_MESSAGE_BYTES: setting(int(1024).default(10 * 1024 * 1024), { runtimes: BOTH }),
  /** The send API's token bucket per tenant: rate and burst. */
  POSTLANE_TENANT_RATE: setting(rate.default(5000), { runtimes: BOTH }),
  POSTLANE_TENANT_BURST: setting(int(1).default(20_000), { runtimes: BOTH }),
  POSTLANE_LANE_BACKLOG_LIMIT: setting(int(1).default(1_000_000), { runtimes: BOTH }),
  /** Requests in progress at once (per process or isolate) before new ones are shed with 503 + Retry-After. */
  POSTLANE_MAX_CONCURRENT_REQUESTS: setting(int(1).default(2000), { runtimes: BOTH }),
  POSTLANE_LEASE_TTL_MS: setting(int(500).default(60_000), { runtimes: BOTH }),
  POSTLANE_HEARTBEAT_MS: setting(int(100).default(10_000), { runtimes: BOTH }),
  /** How often the hub expires leases and offers due retries (Workers: the object's alarm). */
  POSTLANE_HUB_TICK_MS: setting(int(50).default(1000), { runtimes: BOTH, defaultOn: { node: '250' } }),
  /** Operator bounds on every retry class: first delay and largest delay. */
  POSTLANE_RETRY_INITIAL_MS: setting(int(1).optional(), { runtimes: BOTH }),
  POSTLANE_RETRY_MAX_MS: setting(int(1).optional(), { runtimes: BOTH }),
  /** Past this a store call fails with 503 + Retry-After. */
  POSTLANE_STORE_TIMEOUT_MS: setting(int(100).default(5000), { runtimes: BOTH }),
  /** Workers: write transactions one isolate sends to libSQL at once (durable/write-gate.ts). */
  POSTLANE_STORE_WRITE_CONCURRENCY: setting(int(1).default(1), { runtimes: WORKER }),
  POSTLANE_REQUIRE_VERIFIED_DOMAIN: setting(bool.default(false), { runtimes: BOTH }),
  /** The platform's SPF domain: SPF advice is `include:` of it; unset, `ip4:`/`ip6:` of the nodes' IPs. */
  POSTLANE_SPF_INCLUDE: setting(hostName.optional(), { runtimes: BOTH }),
  /** The host the return path's MX points at (bounces and DSNs come back there); unset, no MX is advised. */
  POSTLANE_INTAKE_HOST: setting(hostName.optional(), { runtimes: BOTH }),
  /** The platform's public base URL (https) for links in mail: one-click unsubscribe `/u/…`; unset, the origin a send request came in on. */
  POSTLANE_PUBLIC_URL: setting(z.url({ error: 'must be a URL like https://mail.example.com' }).optional(), { runtimes: BOTH }),
  /** The base URL of open/click tracking links `/t/…` (a host that reaches this edge); unset, POSTLANE_PUBLIC_URL. */
  POSTLANE_TRACKING_BASE: setting(z.url({ error: 'must be a URL like https://t.example.com' }).optional(), { runtimes: BOTH }),
  /** Node: how often every sending domain's DNS records are checked again. */
  POSTLANE_DOMAIN_CHECK_MS: setting(int(1000).default(3_600_000), { runtimes: NODE }),

  // SMTP listeners (Node, edge/adapters/smtp-submission/): each is off until its port is set; 0 takes a free port.
  /** Submission with STARTTLS (RFC 6409; 587): AUTH with an API key of scope `send`. */
  POSTLANE_SUBMISSION_PORT: setting(int(0, 65535).optional(), { runtimes: NODE }),
  /** Submission over implicit TLS (RFC 8314; 465). */
  POSTLANE_SUBMISSION_TLS_PORT: setting(int(0, 65535).optional(), { runtimes: NODE }),
  /** The MX for bounces to the return path (`bounces+<job>@…`) and for the FBL addresses (25). */
  POSTLANE_INTAKE_PORT: setting(int(0, 65535).optional(), { runtimes: NODE }),
  /** The address the SMTP listeners bind. */
  POSTLANE_SMTP_HOST: setting(z.string().min(1).default('127.0.0.1'), { runtimes: NODE }),
  /** PEM files of the listeners' certificate and key; unset, a self-signed one is made at start (local use). */
  POSTLANE_SMTP_TLS_CERT: setting(z.string().min(1).optional(), { runtimes: NODE }),
  POSTLANE_SMTP_TLS_KEY: setting(z.string().min(1).optional(), { runtimes: NODE }),
  /** Feedback-loop mailboxes the intake takes ARF reports for (comma-separated addresses). */
  POSTLANE_FBL_ADDRESSES: setting(list(z.string().regex(/^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/, { error: (issue) => `"${issue.input}" is not an address like fbl@example.com` })).default([]), { runtimes: NODE }),

  /** Overrides of the provider shaping table as a JSON document. */
  POSTLANE_SHAPING_POLICY: setting(shapingJson.optional(), { runtimes: BOTH }),
  /** Node: the same document from a file. */
  POSTLANE_SHAPING_FILE: setting(z.string().min(1).optional(), { runtimes: NODE }),
  /** Node: resolvers (`host[:port]`) for the recipient check at accept; the system's when unset. */
  POSTLANE_DNS_SERVERS: setting(list(resolverAddress).optional(), { runtimes: NODE }),
  /** Workers: DNS-over-HTTPS (JSON API) for that check; `off` skips the MX check. */
  POSTLANE_DOH_URL: setting(z.union([z.literal('off'), z.url({ error: 'must be a URL or off' })]).default('https://cloudflare-dns.com/dns-query'), { runtimes: WORKER }),

  // Webhooks (edge/webhooks/): the sender runs in the Node edge's process and, on Workers, in WebhookSenderObject.
  /** CIDRs a webhook URL may resolve to although private or loopback (e.g. 127.0.0.1/32 in tests). */
  POSTLANE_WEBHOOK_ALLOW: setting(list(z.string().refine((v) => parseCidr(v) !== null, { error: (issue) => `"${issue.input}" is not a CIDR (ADDR/BITS)` })).default([]), { runtimes: BOTH }),
  /** How long a delivery is retried before it becomes a dead letter; an endpoint failing this long is disabled. */
  POSTLANE_WEBHOOK_RETRY_WINDOW_MS: setting(int(1000).default(86_400_000), { runtimes: BOTH }),
  /** Backoff bounds (full jitter): the first delay's cap and the largest. */
  POSTLANE_WEBHOOK_RETRY_INITIAL_MS: setting(int(1).default(5000), { runtimes: BOTH }),
  POSTLANE_WEBHOOK_RETRY_MAX_MS: setting(int(1).default(3_600_000), { runtimes: BOTH }),
  /** Failed attempts in a row after which an endpoint is disabled. */
  POSTLANE_WEBHOOK_DISABLE_AFTER: setting(int(1).default(100), { runtimes: BOTH }),
  /** Deliveries in flight per endpoint (different messages; one message's events go one at a time). */
  POSTLANE_WEBHOOK_CONCURRENCY: setting(int(1, 256).default(8), { runtimes: BOTH }),
  /** How long the old secret still signs after a rotation. */
  POSTLANE_WEBHOOK_SECRET_OVERLAP_MS: setting(int(0).default(86_400_000), { runtimes: BOTH }),

  // Statistics and alerts (edge/services/stats.ts, edge/services/alerts.ts).
  /** Days of trailing baseline that reputation health and spike alerts compare the current window with. */
  POSTLANE_BASELINE_DAYS: setting(int(1, 365).default(14), { runtimes: BOTH }),
  /** How often the alert rules are evaluated over the rollups (at most 15 s, so a spike is raised within a minute). */
  POSTLANE_ALERT_INTERVAL_MS: setting(int(100, 15_000).default(10_000), { runtimes: NODE }),
});

export type SettingName = keyof typeof SettingsSchema.shape;
export const SETTING_NAMES = Object.keys(SettingsSchema.shape) as SettingName[];

export function metaOf(name: SettingName): SettingMeta {
  return settingMeta.get(SettingsSchema.shape[name])!;
}

/** The parsed settings, and the provider table they give (from the JSON or the file). */
export type Settings = z.output<typeof SettingsSchema> & { shapingPolicy?: ShapingPolicy };

export class SettingsError extends Error {
  constructor(
    readonly runtime: Runtime,
    readonly problems: string[],
  ) {
    super(`invalid settings (${RUNTIME_NAMES[runtime]}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

export interface SettingsIo {
  /** Node: reads POSTLANE_SHAPING_FILE. */
  readFile?: (path: string) => string;
}

/** A binding's value as text: Workers vars may be numbers or booleans in wrangler.toml. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Parses the settings of one runtime from its environment (Node's process.env, the Worker's
 * env). Every problem is listed, each naming its variable; throws SettingsError.
 */
export function parseSettings(env: Record<string, unknown>, runtime: Runtime, io: SettingsIo = {}): Settings {
  const input: Record<string, string> = {};
  const problems: string[] = [];
  for (const name of SETTING_NAMES) {
    const meta = metaOf(name);
    if (!meta.runtimes.includes(runtime)) continue;
    const value = text(env[name]) ?? meta.defaultOn?.[runtime];
    if (value === undefined) {
      const old = runtime === 'worker' && name.startsWith('POSTLANE_') ? name.slice('POSTLANE_'.length) : null;
      // Workers used to take the unprefixed names: say so rather than run on defaults.
      if (old && text(env[old]) !== undefined) problems.push(`${old}: renamed to ${name}`);
      else if (meta.requiredOn?.includes(runtime)) problems.push(`${name}: required${meta.secret && runtime === 'worker' ? ` (wrangler secret put ${name})` : ''}`);
      continue;
    }
    const wrong = meta.checkOn?.[runtime]?.(value);
    if (wrong) problems.push(`${name}: ${wrong}`);
    input[name] = value;
  }
  const result = SettingsSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const [name, ...rest] = issue.path.map(String);
      // A list's entry is named by its place: `POSTLANE_NODE_IPS: entry 2: …`.
      const entry = rest.length && /^\d+$/.test(rest[0]) ? `entry ${Number(rest[0]) + 1}: ` : '';
      problems.push(`${name ?? '(settings)'}: ${entry}${issue.message}`);
    }
  }
  if (Boolean(input.POSTLANE_SMTP_TLS_CERT) !== Boolean(input.POSTLANE_SMTP_TLS_KEY)) {
    problems.push(`${input.POSTLANE_SMTP_TLS_CERT ? 'POSTLANE_SMTP_TLS_KEY' : 'POSTLANE_SMTP_TLS_CERT'}: give the certificate and its key together (or neither, for a self-signed one)`);
  }
  if (input.POSTLANE_SHAPING_FILE && input.POSTLANE_SHAPING_POLICY) {
    problems.push('POSTLANE_SHAPING_FILE: give the shaping overrides once, as POSTLANE_SHAPING_FILE or POSTLANE_SHAPING_POLICY');
  }
  if (problems.length || !result.success) throw new SettingsError(runtime, dedupe(problems));
  const settings: Settings = { ...result.data };
  if (settings.POSTLANE_SHAPING_POLICY) settings.shapingPolicy = settings.POSTLANE_SHAPING_POLICY;
  if (settings.POSTLANE_SHAPING_FILE) settings.shapingPolicy = shapingFromFile(settings.POSTLANE_SHAPING_FILE, runtime, io);
  return settings;
}

function shapingFromFile(path: string, runtime: Runtime, io: SettingsIo): ShapingPolicy {
  if (!io.readFile) throw new SettingsError(runtime, [`POSTLANE_SHAPING_FILE: this runtime cannot read files`]);
  let body: string;
  try {
    body = io.readFile(path);
  } catch (error) {
    throw new SettingsError(runtime, [`POSTLANE_SHAPING_FILE: cannot read ${path}: ${(error as Error).message}`]);
  }
  try {
    return parseShapingDocument(body);
  } catch (error) {
    throw new SettingsError(runtime, [`POSTLANE_SHAPING_FILE: ${path}: ${(error as Error).message}`]);
  }
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

/** The app's view of the settings (one mapping for both runtimes). */
export function appConfig(settings: Settings, overrides: { shapingPolicy?: ShapingPolicy } = {}): AppConfig {
  const shapingPolicy = overrides.shapingPolicy ?? settings.shapingPolicy;
  return {
    maxMessageBytes: settings.POSTLANE_MAX_MESSAGE_BYTES,
    tenantRatePerSec: settings.POSTLANE_TENANT_RATE,
    tenantBurst: settings.POSTLANE_TENANT_BURST,
    laneBacklogLimit: settings.POSTLANE_LANE_BACKLOG_LIMIT,
    maxConcurrentRequests: settings.POSTLANE_MAX_CONCURRENT_REQUESTS,
    leaseTtlMs: settings.POSTLANE_LEASE_TTL_MS,
    heartbeatMs: settings.POSTLANE_HEARTBEAT_MS,
    requireVerifiedDomain: settings.POSTLANE_REQUIRE_VERIFIED_DOMAIN,
    baselineDays: settings.POSTLANE_BASELINE_DAYS,
    domainAuth: { spfInclude: settings.POSTLANE_SPF_INCLUDE ?? null, intakeHost: settings.POSTLANE_INTAKE_HOST ?? null },
    ...(settings.POSTLANE_PUBLIC_URL ? { publicUrl: settings.POSTLANE_PUBLIC_URL } : {}),
    ...(settings.POSTLANE_TRACKING_BASE ? { trackingBase: settings.POSTLANE_TRACKING_BASE } : {}),
    ...(shapingPolicy ? { shapingPolicy } : {}),
  };
}

/** The operator's bounds on every retry schedule, as the hub takes them. */
export function retryOverride(settings: Settings): { initialMs?: number; maxDelayMs?: number } {
  return {
    ...(settings.POSTLANE_RETRY_INITIAL_MS ? { initialMs: settings.POSTLANE_RETRY_INITIAL_MS } : {}),
    ...(settings.POSTLANE_RETRY_MAX_MS ? { maxDelayMs: settings.POSTLANE_RETRY_MAX_MS } : {}),
  };
}

/** Setting names whose values are credentials on every runtime (besides those marked `secret`). */
const CREDENTIAL_NAME = /_(KEY|TOKEN|PASSWORD)$/;

/**
 * The settings in force on this runtime, for the start-up log line: secrets shown as `[set]`,
 * credentials inside URLs (`https://user:pass@…`) removed, unset optional ones left out.
 */
export function effectiveSettings(settings: Settings, runtime: Runtime): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    if (!metaOf(name).runtimes.includes(runtime)) continue;
    const value = settings[name];
    if (value === undefined) continue;
    if (metaOf(name).secret || CREDENTIAL_NAME.test(name)) out[name] = '[set]';
    else if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(value)) out[name] = value.replace(/\/\/[^/@]*@/, '//[credentials]@');
    else out[name] = value;
  }
  return out;
}
