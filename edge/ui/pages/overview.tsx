/** Overview: outcomes per lane now and against the baseline, health, open alerts, breakers not closed. */
import type { Overview } from '../overview-data.ts';
import { OUTCOMES } from '../overview-data.ts';
import { alertTable } from './alerts.tsx';
import { Badge, Chart, Layout, Table, type PageContext } from '../layout.tsx';

const HEALTH_TONE: Record<string, string> = { good: 'ok', watch: 'warn', bad: 'bad' };
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)} %`);

export function overviewPage(page: PageContext, o: Overview) {
  return (
    <Layout title="Overview" page={page}>
      <h2>Lanes: the last hour</h2>
      <p class="muted">Each figure beside its hourly average over the last {o.baselineDays} days.</p>
      <Table
        caption="Outcomes per lane, last hour against the baseline"
        head={['Lane', 'Queued', 'Sent (attempts)', ...OUTCOMES.map((x) => x[0].toUpperCase() + x.slice(1))]}
      >
        {o.lanes.map((l) => (
          <tr data-lane={l.lane}>
            <th scope="row">{l.lane}</th>
            <td class="num">{l.queued}</td>
            <td class="num">
              {l.now.attempts} <span class="muted">/ {l.baseline.attempts}</span>
            </td>
            {OUTCOMES.map((x) => (
              <td class="num">
                {l.now[x]} <span class="muted">/ {l.baseline[x]}</span>
              </td>
            ))}
          </tr>
        ))}
      </Table>
      {o.chart.length > 0 && (
        <Chart
          label="Delivery attempts per hour, last 24 hours"
          series={[{ label: 'delivered' }, { label: 'deferred' }, { label: 'bounced' }]}
          data={o.chart}
        />
      )}
      <h2>Open alerts</h2>
      {o.alerts.length === 0 ? <p class="muted">No open alert.</p> : alertTable(o.alerts, 'Open alerts')}
      <h2>Breakers open or in slow start</h2>
      {o.breakers.length === 0 ? (
        <p class="muted">Every breaker is closed.</p>
      ) : (
        <Table caption="Breakers that hold mail back" head={['Scope', 'Key', 'State', 'Since', 'Region']}>
          {o.breakers.map((b) => (
            <tr>
              <td>{b.scope}</td>
              <td>{b.key}</td>
              <td>
                <Badge state={b.state} />
              </td>
              <td>{b.since ?? '–'}</td>
              <td>{b.region ?? 'this hub'}</td>
            </tr>
          ))}
        </Table>
      )}
      <h2>Reputation health</h2>
      <p class="muted">Last hour against the trailing {o.health.baseline.days} days, per pool and sending domain.</p>
      {o.health.data.length === 0 ? (
        <p class="muted">No mail in the window or the baseline yet.</p>
      ) : (
        <Table
          caption="Reputation health per pool and sending domain"
          head={['Kind', 'Name', 'State', 'Complaints', 'Hard bounces', 'Deferrals', 'Accept p50']}
        >
          {o.health.data.map((h) => (
            <tr>
              <td>{h.kind}</td>
              <td>{h.tenant ? `${h.name} (${h.tenant})` : h.name}</td>
              <td>
                <span class={`badge ${HEALTH_TONE[h.state]}`}>{h.state}</span>
              </td>
              <td class="num">
                {pct(h.complaint_rate.current)} <span class="muted">/ {pct(h.complaint_rate.baseline)}</span>
              </td>
              <td class="num">
                {pct(h.hard_bounce_rate.current)} <span class="muted">/ {pct(h.hard_bounce_rate.baseline)}</span>
              </td>
              <td class="num">
                {pct(h.deferral_rate.current)} <span class="muted">/ {pct(h.deferral_rate.baseline)}</span>
              </td>
              <td class="num">
                {h.acceptance_latency_ms.current === null ? '–' : `${Math.round(h.acceptance_latency_ms.current)} ms`}{' '}
                <span class="muted">/ {h.acceptance_latency_ms.baseline === null ? '–' : `${Math.round(h.acceptance_latency_ms.baseline)} ms`}</span>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </Layout>
  );
}
