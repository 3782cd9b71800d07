/**
 * The MTA node's settings: one valibot schema, parsed once at start from CLI flags and the
 * environment. A bad setting stops start-up with a message naming the setting and the reason.
 *
 *   --edge ws://HOST:PORT   the edge's lease hub (the path /v1/nodes/connect is added)
 *   --token T               node token, sent as `Authorization: Bearer T` on the upgrade
 *   --region R              region name, e.g. `eu`
 *   --ip ADDR=POOL[=EHLO]   an owned source IP with its pool and EHLO name (repeatable)
 *   --capacity N            deliveries in flight at once (default 100)
 *   --node-id ID            stable node id (default: the host name)
 *   --journal PATH          result journal (default .postlane/node-<id>.journal)
 *   --status-port N         serve GET /metrics, GET /healthz and GET /readyz on 127.0.0.1:N (off by default)
 *   --status-host ADDR      the status port's address (default 127.0.0.1; 0.0.0.0 for a scraper elsewhere)
 *   POSTLANE_DNS_SERVERS    comma list of resolvers, e.g. `1.1.1.1,8.8.8.8:53`
 *   POSTLANE_ROUTES         static routes `example.com=127.0.0.1:2525,*=relay.local:25`
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { SourceIpSchema, type SourceIp } from '../shared/protocol.ts';

export const NODE_VERSION = '0.1.0';

const HOSTNAME_RE = /^[A-Za-z0-9.-]{1,253}$/;

/** A static route target, used instead of MX (a smarthost / transport map entry). */
export interface RouteTarget {
  host: string;
  port: number;
}
export type StaticRoutes = Map<string, RouteTarget>;

const hostPort = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseHostPort(dataset.value, 25);
    if (!parsed) {
      addIssue({ message: `"${dataset.value}" is not host:port` });
      return NEVER;
    }
    return parsed;
  }),
);

export const NodeConfigSchema = v.object({
  edge: v.pipe(v.string(), v.url('must be a ws:// or wss:// URL'), v.regex(/^wss?:\/\//i, 'must be a ws:// or wss:// URL')),
  token: v.pipe(v.string(), v.minLength(1, 'is required')),
  region: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lowercase letters, digits, - or _')),
  nodeId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -')),
  ips: v.pipe(v.array(SourceIpSchema), v.minLength(1, 'at least one --ip ADDR=POOL[=EHLO] is required')),
  capacity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000)),
  journalPath: v.pipe(v.string(), v.minLength(1)),
  statusPort: v.optional(v.pipe(v.number(), v.integer('must be a port number'), v.minValue(0), v.maxValue(65535))),
  statusHost: v.optional(v.pipe(v.string(), v.check((s) => isIP(s) !== 0, 'must be an IP address'))),
  dnsServers: v.array(v.pipe(v.string(), v.check((s) => parseHostPort(s, 53) !== null, 'is not a resolver address'))),
  routes: v.array(v.object({ domain: v.pipe(v.string(), v.regex(/^(\*|[A-Za-z0-9.-]{1,253})$/, 'is not a domain or *')), target: hostPort })),
});

export type NodeConfig = Omit<v.InferOutput<typeof NodeConfigSchema>, 'routes'> & { routes: StaticRoutes };

export class ConfigError extends Error {}

/** `host:port`, `[v6]:port`, a bare host, or a bare IPv6 address. */
export function parseHostPort(text: string, defaultPort: number): RouteTarget | null {
  const s = text.trim();
  let host: string;
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1];
    if (bracket[2]) port = Number(bracket[2]);
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) return null;
    host = m[1];
    if (m[2]) port = Number(m[2]);
  }
  if (!(isIP(host) || HOSTNAME_RE.test(host))) return null;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** `ADDR=POOL[=EHLO]`; the EHLO name defaults to this host's name. */
export function parseIpFlag(text: string, defaultEhlo: string): SourceIp {
  const [address, pool, ehlo] = text.split('=');
  return { address: address ?? '', pool: pool ?? '', ehlo: ehlo || defaultEhlo };
}

/** `example.com=127.0.0.1:2525,*=relay:25` → list (validated by the schema). */
export function parseRoutesEnv(text: string | undefined): { domain: string; target: string }[] {
  if (!text?.trim()) return [];
  return text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      return eq < 0 ? { domain: entry, target: '' } : { domain: entry.slice(0, eq).trim().toLowerCase(), target: entry.slice(eq + 1).trim() };
    });
}

function defaultHostName(): string {
  const h = hostname();
  return HOSTNAME_RE.test(h) ? h : 'localhost';
}

/** Parses argv + env once; throws ConfigError with every problem listed. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeConfig {
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        edge: { type: 'string' },
        token: { type: 'string' },
        region: { type: 'string' },
        ip: { type: 'string', multiple: true },
        capacity: { type: 'string' },
        'node-id': { type: 'string' },
        journal: { type: 'string' },
        'status-port': { type: 'string' },
        'status-host': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError(`invalid command line: ${(err as Error).message}`);
  }
  const host = defaultHostName();
  const nodeId = (values['node-id'] as string | undefined) ?? host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);
  const capacityText = (values.capacity as string | undefined) ?? '100';
  const raw = {
    edge: values.edge ?? '',
    token: values.token ?? env.POSTLANE_NODE_TOKEN ?? '',
    region: values.region ?? '',
    nodeId,
    ips: ((values.ip as string[] | undefined) ?? []).map((t) => parseIpFlag(t, host)),
    capacity: /^\d+$/.test(capacityText) ? Number(capacityText) : Number.NaN,
    journalPath: (values.journal as string | undefined) ?? `.postlane/node-${nodeId}.journal`,
    ...(values['status-port'] !== undefined ? { statusPort: /^\d+$/.test(values['status-port'] as string) ? Number(values['status-port']) : Number.NaN } : {}),
    ...(values['status-host'] !== undefined ? { statusHost: values['status-host'] as string } : {}),
    dnsServers: (env.POSTLANE_DNS_SERVERS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    routes: parseRoutesEnv(env.POSTLANE_ROUTES),
  };
  const result = v.safeParse(NodeConfigSchema, raw);
  if (!result.success) {
    const names: Record<string, string> = {
      edge: '--edge', token: '--token', region: '--region', nodeId: '--node-id', ips: '--ip',
      capacity: '--capacity', journalPath: '--journal', statusPort: '--status-port', statusHost: '--status-host', dnsServers: 'POSTLANE_DNS_SERVERS', routes: 'POSTLANE_ROUTES',
    };
    const lines = result.issues.map((issue) => {
      const path = issue.path?.map((p) => String(p.key)) ?? [];
      const head = path.length ? names[path[0]] ?? path[0] : '(config)';
      const rest = path.slice(1).join('.');
      return `  ${head}${rest ? ` [${rest}]` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`bad MTA node settings:\n${lines.join('\n')}`);
  }
  const out = result.output;
  const routes: StaticRoutes = new Map(out.routes.map((r) => [r.domain.toLowerCase(), r.target]));
  return { ...out, routes };
}
