/**
 * Where mail for a domain goes, with no I/O of its own: static routes first (smarthost /
 * transport map), then MX records through an injected DNS client, RFC 5321 §5.1 implicit MX,
 * RFC 7505 null MX; answers cached for their TTL, capped. Pure, so both sides use it: the MTA
 * node to deliver (mta-node/mx.ts binds node:dns) and the Node edge to check that an outreach
 * recipient's domain takes mail (edge/adapters/dns-resolver.ts binds node:dns with its own
 * servers and deadline). shared/ runs in workerd too, so the DNS client is always injected.
 */

/** A static route target, used instead of MX (a smarthost / transport map entry). */
export interface MxRoute {
  host: string;
  port: number;
}
export type MxRoutes = Map<string, MxRoute>;

export interface MxHost {
  /** Host name (or IP literal for a static route). */
  host: string;
  port: number;
  preference: number;
}

export type MxResolution =
  | { kind: 'ok'; hosts: MxHost[]; route: 'static' | 'mx' | 'implicit' }
  /** The domain cannot receive mail: null MX, NXDOMAIN, no MX and no address. */
  | { kind: 'permanent'; error: string }
  /** Resolver trouble (SERVFAIL, timeout, refused): try again later. */
  | { kind: 'transient'; error: string };

/**
 * The DNS client MxLookup asks: the subset of node:dns/promises' Resolver it uses. A failed
 * lookup rejects with node:dns's error `code`: ENODATA (no records of that type), ENOTFOUND
 * (NXDOMAIN); any other code is transient.
 */
export interface DnsLike {
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(name: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(name: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

export interface MxLookupOptions {
  dns: DnsLike;
  routes?: MxRoutes;
  /** Upper bound on how long an answer is cached, whatever its TTL (ms). */
  maxCacheMs?: number;
  /** Cache time for negative and transient answers (ms). */
  negativeCacheMs?: number;
  now?: () => number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** An IPv4 or IPv6 literal (what node:net's isIP accepts; host names never hold a colon). */
export function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || (host.includes(':') && /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host));
}

const PERMANENT_DNS = new Set(['ENOTFOUND', 'ENODATA']);

export class MxLookup {
  private readonly dns: DnsLike;
  private readonly routes: MxRoutes;
  private readonly maxCacheMs: number;
  private readonly negativeCacheMs: number;
  private readonly now: () => number;
  private readonly mxCache = new Map<string, { until: number; value: MxResolution }>();
  private readonly addrCache = new Map<string, { until: number; value: string[] }>();

  constructor(opts: MxLookupOptions) {
    this.dns = opts.dns;
    this.routes = opts.routes ?? new Map();
    this.maxCacheMs = opts.maxCacheMs ?? 5 * 60_000;
    this.negativeCacheMs = opts.negativeCacheMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** The static route for a domain: exact match, then parent domains, then `*`. */
  staticRoute(domain: string): MxRoute | null {
    let d = domain.toLowerCase();
    for (;;) {
      const hit = this.routes.get(d);
      if (hit) return hit;
      const dot = d.indexOf('.');
      if (dot < 0) break;
      d = d.slice(dot + 1);
    }
    return this.routes.get('*') ?? null;
  }

  async resolve(domain: string): Promise<MxResolution> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    const route = this.staticRoute(d);
    if (route) return { kind: 'ok', route: 'static', hosts: [{ host: route.host, port: route.port, preference: 0 }] };
    const cached = this.mxCache.get(d);
    if (cached && cached.until > this.now()) return cached.value;
    const { value, ttlMs } = await this.lookupMx(d);
    this.mxCache.set(d, { value, until: this.now() + ttlMs });
    return value;
  }

  private async lookupMx(domain: string): Promise<{ value: MxResolution; ttlMs: number }> {
    let records: { exchange: string; priority: number }[];
    try {
      records = await this.dns.resolveMx(domain);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'ENODATA') {
        // RFC 5321 §5.1: no MX records → the domain itself is the implicit MX (its A/AAAA).
        const addrs = await this.addresses(domain, 'any');
        if (addrs.kind === 'ok' && addrs.addresses.length > 0) {
          return { value: { kind: 'ok', route: 'implicit', hosts: [{ host: domain, port: 25, preference: 0 }] }, ttlMs: addrs.ttlMs };
        }
        if (addrs.kind === 'transient') return { value: addrs, ttlMs: this.negativeCacheMs };
        return { value: { kind: 'permanent', error: `${domain} has no MX and no A/AAAA records` }, ttlMs: this.negativeCacheMs };
      }
      if (code === 'ENOTFOUND') {
        return { value: { kind: 'permanent', error: `${domain}: domain does not exist (NXDOMAIN)` }, ttlMs: this.negativeCacheMs };
      }
      return { value: { kind: 'transient', error: `MX lookup for ${domain} failed: ${code || (err as Error).message}` }, ttlMs: this.negativeCacheMs };
    }
    // RFC 7505 §3: a single MX with the root as exchange ("0 .") says the domain accepts no mail.
    if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
      return { value: { kind: 'permanent', error: `${domain} publishes a null MX (RFC 7505): it accepts no mail` }, ttlMs: this.maxCacheMs };
    }
    if (records.length === 0) {
      return { value: { kind: 'permanent', error: `${domain} has an empty MX set` }, ttlMs: this.negativeCacheMs };
    }
    // RFC 5321 §5.1: lower preference first; equal preferences in random order to spread load.
    const hosts = records
      .map((r) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), port: 25, preference: r.priority, r: Math.random() }))
      .sort((a, b) => a.preference - b.preference || a.r - b.r)
      .map(({ host, port, preference }) => ({ host, port, preference }));
    // node's resolveMx gives no TTL; cache for the cap (the MX host addresses carry their own TTL).
    return { value: { kind: 'ok', route: 'mx', hosts }, ttlMs: this.maxCacheMs };
  }

  /**
   * Addresses of an MX host. `family` limits them to what the source IP can reach; IP literals
   * (static routes) are returned as they are.
   */
  async addresses(
    host: string,
    family: 4 | 6 | 'any',
  ): Promise<{ kind: 'ok'; addresses: string[]; ttlMs: number } | { kind: 'permanent'; error: string } | { kind: 'transient'; error: string }> {
    if (isIpLiteral(host)) return { kind: 'ok', addresses: [host], ttlMs: this.maxCacheMs };
    if (host === 'localhost') return { kind: 'ok', addresses: [family === 6 ? '::1' : '127.0.0.1'], ttlMs: this.maxCacheMs };
    const key = `${family}|${host}`;
    const cached = this.addrCache.get(key);
    if (cached && cached.until > this.now()) return { kind: 'ok', addresses: cached.value, ttlMs: cached.until - this.now() };
    const families: (4 | 6)[] = family === 'any' ? [4, 6] : [family];
    const found: string[] = [];
    let minTtl = Infinity;
    let transient: string | null = null;
    for (const f of families) {
      try {
        const recs = f === 4 ? await this.dns.resolve4(host, { ttl: true }) : await this.dns.resolve6(host, { ttl: true });
        for (const r of recs) {
          found.push(r.address);
          minTtl = Math.min(minTtl, r.ttl * 1000);
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (!PERMANENT_DNS.has(code)) transient = `address lookup for ${host} failed: ${code || (err as Error).message}`;
      }
    }
    if (found.length === 0) {
      if (transient) return { kind: 'transient', error: transient };
      return { kind: 'permanent', error: `${host} has no ${family === 'any' ? 'A/AAAA' : family === 4 ? 'A' : 'AAAA'} records` };
    }
    const ttlMs = Math.max(1_000, Math.min(this.maxCacheMs, Number.isFinite(minTtl) ? minTtl : this.maxCacheMs));
    this.addrCache.set(key, { value: found, until: this.now() + ttlMs });
    return { kind: 'ok', addresses: found, ttlMs };
  }
}
