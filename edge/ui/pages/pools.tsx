/** Pools and IPs: breakers, health against thresholds, warm-ups with their throughput curve, IPs and suspensions. */
import type { PoolsPanel } from '../pools-data.ts';
import { CURVE_DAYS } from '../pools-data.ts';
import { Badge, Chart, Layout, Table, Time, type PageContext } from '../layout.tsx';

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(2)} %`);
const TONE: Record<string, string> = { good: 'ok', watch: 'warn', bad: 'bad' };

export function poolsPage(page: PageContext, p: PoolsPanel) {
  const t = p.thresholds;
  return (
    <Layout title="Pools and IPs" page={page}>
      <h2>Pools</h2>
      <p class="muted">
        Last hour. Complaints are watched at {pct(t.complaint.watch)} and bad at {pct(t.complaint.bad)}; hard bounces at {pct(t.hardBounce.watch)} and{' '}
        {pct(t.hardBounce.bad)}.
      </p>
      {p.pools.length === 0 ? (
        <p class="muted">No pool.</p>
      ) : (
        <Table
          caption="Pools, their breakers and health"
          head={['Pool', 'Kind', 'Breaker', 'Health', 'Complaint rate', 'Hard-bounce rate', ...(p.operator ? ['Source IPs'] : [])]}
        >
          {p.pools.map((r) => (
            <tr data-pool={r.pool.name}>
              <th scope="row">{r.pool.name}</th>
              <td>{r.pool.tenantId ? `dedicated (${r.pool.tenantId})` : 'shared'}</td>
              <td>
                <Badge state={r.breaker?.state ?? 'closed'} />
                {r.breaker?.since ? <div class="muted">since {r.breaker.since}</div> : null}
              </td>
              <td>{r.health ? <span class={`badge ${TONE[r.health.state]}`}>{r.health.state}</span> : <span class="muted">no mail</span>}</td>
              <td class="num">{pct(r.health?.complaint_rate.current)}</td>
              <td class="num">{pct(r.health?.hard_bounce_rate.current)}</td>
              {p.operator && <td class="mono">{r.ips.length ? r.ips.map((ip) => `${ip.address} (${ip.status})`).join(', ') : '–'}</td>}
            </tr>
          ))}
        </Table>
      )}
      <h2>Warm-ups</h2>
      {p.warmups.length === 0 ? (
        <p class="muted">No warm-up is running.</p>
      ) : (
        p.warmups.map((w) => (
          <section aria-labelledby={`w-${w.view.id}`}>
            <h3 id={`w-${w.view.id}`}>
              {w.view.scope} {w.view.target} <Badge state={w.view.status} />
            </h3>
            <p>
              Projected safe throughput today: {w.view.projected_safe_throughput.per_day} per day, {w.view.projected_safe_throughput.per_hour} per hour.
            </p>
            <Table caption={`Warm-up ${w.view.target} per provider`} head={['Provider', 'Plan day', 'Cap today', 'Sent today', 'Next send', 'Projection']}>
              {w.view.providers.map((v) => (
                <tr>
                  <th scope="row">{v.provider}</th>
                  <td class="num">{v.complete ? 'complete' : v.day}</td>
                  <td class="num">{v.cap_today}</td>
                  <td class="num">{v.sent_today}</td>
                  <td>{v.next_send_at ? <Time ms={Date.parse(v.next_send_at)} /> : '–'}</td>
                  <td>
                    {v.projected.decision}: {v.projected.reason}
                  </td>
                </tr>
              ))}
            </Table>
            <Chart
              label={`Daily cap of ${w.view.target} over the next ${CURVE_DAYS} plan days, if each day grows`}
              series={[{ label: 'messages per day' }]}
              data={w.curve}
            />
          </section>
        ))
      )}
      {p.operator && (
        <>
          <h2>Nodes and their IPs</h2>
          {p.nodes.length === 0 ? (
            <p class="muted">No MTA node is connected.</p>
          ) : (
            <Table caption="Connected MTA nodes" head={['Node', 'Region', 'Version', 'IPs (pool)', 'Leased', 'Connected']}>
              {p.nodes.map((n) => (
                <tr>
                  <th scope="row">{n.nodeId}</th>
                  <td>{n.region}</td>
                  <td>{n.version}</td>
                  <td class="mono">{n.ips.map((ip) => `${ip.address} (${ip.pool})`).join(', ')}</td>
                  <td class="num">{n.leased}</td>
                  <td>
                    <Time ms={n.connectedAt} />
                  </td>
                </tr>
              ))}
            </Table>
          )}
          <h2>IP suspensions</h2>
          {p.suspended.length === 0 ? (
            <p class="muted">No IP is suspended.</p>
          ) : (
            <Table caption="Suspended source IPs" head={['IP', 'Provider', 'Until', 'Rule', 'Region']}>
              {p.suspended.map((s) => (
                <tr>
                  <td class="mono">{s.ip}</td>
                  <td>{s.provider}</td>
                  <td>{s.until}</td>
                  <td>{s.rule}</td>
                  <td>{s.region ?? 'this hub'}</td>
                </tr>
              ))}
            </Table>
          )}
        </>
      )}
    </Layout>
  );
}
