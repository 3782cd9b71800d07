/**
 * DNS lookups the domain checker needs (TXT, MX, CNAME, A), with failures kept apart from
 * absence: `none` is an authoritative "no such record" (NXDOMAIN or no data), `error` is a lookup
 * that could not say (SERVFAIL, timeout, refused) and must never be read as "missing".
 * Node binds it to node:dns/promises (edge/adapters/dns-resolver.ts).
 */
export type Lookup<T> = { kind: 'ok'; values: T[] } | { kind: 'none' } | { kind: 'error'; code: string };

export interface DnsRecords {
  /** Each record's character-strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2). */
  txt(name: string): Promise<Lookup<string>>;
  mx(name: string): Promise<Lookup<{ exchange: string; priority: number }>>;
  cname(name: string): Promise<Lookup<string>>;
  a(name: string): Promise<Lookup<string>>;
}
