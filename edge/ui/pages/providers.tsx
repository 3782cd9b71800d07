/** Providers: acceptance, deferrals by reply class, time to accept, adaptive rates and breakers, refreshed live. */
import type { ProviderPanel } from '../provider-panel.ts';
import { CHART_MINUTES, WINDOW_MINUTES } from '../provider-panel.ts';
import { Badge, Chart, Layout, Table, formatTime, percent, type PageContext } from '../layout.tsx';

/** How often the page asks for fresh figures (the issue asks for at most 5 s). */
export const PROVIDERS_REFRESH_MS = 3000;

const ms = (v: number | null) => (v === null ? '–' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);

export function providersLive(panel: ProviderPanel) {
  return (
    <>
      <p class="muted">
        Last {WINDOW_MINUTES} minutes, since {formatTime(panel.windowFrom)}; refreshed every {PROVIDERS_REFRESH_MS / 1000} s.
      </p>
      {panel.providers.length === 0 ? (
        <p class="muted">No delivery attempt in this window.</p>
      ) : (
        <Table
          caption="Delivery attempts per provider"
          head={['Provider', 'Attempts', 'Delivered', 'Accepted', 'Deferred', 'Deferral rate', 'Deferrals by class', 'Bounced', 'Accept p50', 'Accept p95']}
        >
          {panel.providers.map((p) => (
            <tr data-provider={p.provider}>
              <th scope="row">{p.provider}</th>
              <td class="num">{p.attempts}</td>
              <td class="num">{p.delivered}</td>
              <td class="num">{percent(p.delivered, p.attempts)}</td>
              <td class="num" data-deferred={p.deferred}>
                {p.deferred}
              </td>
              <td class="num">{percent(p.deferred, p.attempts)}</td>
              <td>{p.deferralsByClass.length ? p.deferralsByClass.map((d) => `${d.replyClass} ${d.count}`).join(', ') : '–'}</td>
              <td class="num">{p.bounced}</td>
              <td class="num">{ms(p.acceptP50Ms)}</td>
              <td class="num">{ms(p.acceptP95Ms)}</td>
            </tr>
          ))}
        </Table>
      )}
      {panel.chart.providers.length > 0 && (
        <Chart
          label={`Deferral rate per minute and provider, last ${CHART_MINUTES} minutes (percent of attempts)`}
          series={panel.chart.providers.map((p) => ({ label: p, unit: ' %' }))}
          data={panel.chart.data}
        />
      )}
      <h2>Adaptive rates</h2>
      {panel.rates.length === 0 ? (
        <p class="muted">No adaptive rate is in force: every provider runs at its table rate.</p>
      ) : (
        <Table caption="Adaptive sending rates (AIMD) and their ceilings" head={['Provider', 'Destination', 'Pool', 'IP', 'Region', 'Rate now', 'Ceiling']}>
          {panel.rates.map((r) => (
            <tr data-rate={`${r.provider}|${r.pool ?? r.ip ?? ''}`}>
              <th scope="row">{r.provider}</th>
              <td>{r.destination}</td>
              <td>{r.pool ?? '–'}</td>
              <td>{r.ip ?? '–'}</td>
              <td>{r.region ?? 'this hub'}</td>
              <td class="num">{Math.round(r.ratePerMin * 10) / 10}/min</td>
              <td class="num">{r.ceilingPerMin === null ? '–' : `${r.ceilingPerMin}/min`}</td>
            </tr>
          ))}
        </Table>
      )}
      <h2>Breakers</h2>
      {panel.breakers.length === 0 ? (
        <p class="muted">No breaker has tripped: every pool and sending domain is closed.</p>
      ) : (
        <Table caption="Circuit breakers" head={['Scope', 'Key', 'State', 'Allowed rate', 'Since', 'Region']}>
          {panel.breakers.map((b) => (
            <tr data-breaker={`${b.scope}:${b.key}`}>
              <td>{b.scope}</td>
              <td>{b.key}</td>
              <td>
                <Badge state={b.state} />
              </td>
              <td class="num">{b.ratePerMin === null ? '–' : `${Math.round(b.ratePerMin * 10) / 10}/min`}</td>
              <td>{b.since ?? '–'}</td>
              <td>{b.region ?? 'this hub'}</td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}

export function providersPage(page: PageContext, panel: ProviderPanel) {
  return (
    <Layout title="Providers" page={page}>
      <section id="live" data-live="/ui/providers/live" data-interval={String(PROVIDERS_REFRESH_MS)} aria-live="polite" aria-busy="false">
        {providersLive(panel)}
      </section>
    </Layout>
  );
}
