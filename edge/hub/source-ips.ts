/**
 * The operator's source-IP registry (table `source_ips`, edge/routes/pools.ts) as the hub applies
 * it. A registered IP serves the pool the registry names, from nodes of the token it is bound to
 * (if any); a draining IP gets no new leases (its leases in flight finish), a retired one is not
 * accepted at hello. Unregistered IPs keep what the node declared. Dedicated pools lease only
 * their tenant's jobs. Pure: the dispatcher reads the rows each round and asks these.
 */
import type { SourceIp } from '../../shared/protocol.ts';
import type { PoolInfo, SourceIpRecord } from '../ports/store.ts';

/** The IPs a hello may use: none bound to another token, none retired; the registry's pool. */
export function acceptAtHello(declared: SourceIp[], tokenId: string, registry: SourceIpRecord[]): SourceIp[] {
  const byAddress = new Map(registry.map((r) => [r.address, r]));
  const out: SourceIp[] = [];
  for (const ip of declared) {
    const reg = byAddress.get(ip.address);
    if (!reg) out.push(ip);
    else if (reg.status !== 'retired' && (reg.nodeTokenId === null || reg.nodeTokenId === tokenId)) out.push({ ...ip, pool: reg.pool });
  }
  return out;
}

export interface LeasingView {
  /** The session's IPs that may take new leases now, each in its registry pool. */
  ips: SourceIp[];
  pools: string[];
  /** Dedicated pools among them → their tenant. */
  owners: Record<string, string>;
  /**
   * The view differs from what the node was welcomed with (an IP draining or moved): the hub
   * then names the source IP of every lease, so the node's own pick cannot use a stale one.
   */
  pickIps: boolean;
}

export function leasingView(accepted: SourceIp[], tokenId: string, registry: SourceIpRecord[], pools: Pick<PoolInfo, 'name' | 'tenantId'>[]): LeasingView {
  const byAddress = new Map(registry.map((r) => [r.address, r]));
  const ips: SourceIp[] = [];
  let pickIps = false;
  for (const ip of accepted) {
    const reg = byAddress.get(ip.address);
    if (!reg) {
      ips.push(ip);
      continue;
    }
    if (reg.status !== 'active' || (reg.nodeTokenId !== null && reg.nodeTokenId !== tokenId)) {
      pickIps = true;
      continue;
    }
    if (reg.pool !== ip.pool) pickIps = true;
    ips.push({ ...ip, pool: reg.pool });
  }
  const poolNames = [...new Set(ips.map((ip) => ip.pool))];
  const owners: Record<string, string> = {};
  for (const p of pools) if (p.tenantId !== null && poolNames.includes(p.name)) owners[p.name] = p.tenantId;
  return { ips, pools: poolNames, owners, pickIps };
}
