/** Webhooks and alerts: endpoints with their stream position and failures, their dead letters, the alert log. */
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../../ports/webhooks.ts';
import { hasScope } from '../session.ts';
import { Badge, Csrf, Layout, Notice, Pager, Table, Time, type PageContext } from '../layout.tsx';
import type { AlertRecord } from '../../ports/stats.ts';
import { alertTable } from './alerts.tsx';

export interface EndpointView {
  endpoint: WebhookEndpointRecord;
  status: string;
  deadLetters: WebhookDeliveryRecord[];
}

export function webhooksPage(
  page: PageContext,
  props: { endpoints: EndpointView[]; deadLetterLimit: number; notice?: string; alerts: AlertRecord[]; alertsBefore?: string; alertsNext: string | null },
) {
  const canReplay = hasScope(page.caller, 'admin');
  return (
    <Layout title="Webhooks and alerts" page={page}>
      {props.notice && <Notice>{props.notice}</Notice>}
      <h2>Endpoints</h2>
      {props.endpoints.length === 0 ? (
        <p class="muted">No webhook endpoint: add one with POST /v1/webhooks.</p>
      ) : (
        <Table caption="Webhook endpoints" head={['URL', 'Status', 'Events', 'Stream position', 'Failing', 'Dead letters']}>
          {props.endpoints.map(({ endpoint: e, status, deadLetters }) => (
            <tr>
              <td class="mono">
                <a href={`#${e.id}`}>{e.url}</a>
              </td>
              <td>
                <Badge state={status} />
                {e.disabledReason ? <div class="muted">{e.disabledReason}</div> : null}
              </td>
              <td>{e.eventTypes.join(', ')}</td>
              <td class="num">{e.nextSequence - 1}</td>
              <td>
                {e.consecutiveFailures > 0 ? `${e.consecutiveFailures} in a row since ${e.failingSince ? new Date(e.failingSince).toISOString() : '?'}` : 'no'}
              </td>
              <td class="num">{deadLetters.length >= props.deadLetterLimit ? `${props.deadLetterLimit}+` : deadLetters.length}</td>
            </tr>
          ))}
        </Table>
      )}
      {props.endpoints
        .filter((v) => v.deadLetters.length > 0)
        .map(({ endpoint: e, deadLetters }) => (
          <section aria-labelledby={`dl-${e.id}`}>
            <h3 id={`dl-${e.id}`}>
              <a id={e.id} href={`#${e.id}`}>
                Dead letters of {e.url}
              </a>
            </h3>
            {canReplay && (
              <form method="post" action="/ui/webhooks/replay" data-confirm="Deliver every dead letter of this endpoint again?">
                <Csrf page={page} />
                <input type="hidden" name="endpoint" value={e.id} />
                <button type="submit">Replay all dead letters</button>
              </form>
            )}
            <Table caption={`Dead letters of ${e.url}`} head={['Sequence', 'Event', 'Message', 'Attempts', 'Last status', 'Last error', 'Dead since']}>
              {deadLetters.map((d) => (
                <tr>
                  <td class="num">{d.sequence}</td>
                  <td>{d.type}</td>
                  <td>
                    <a class="mono" href={`/ui/messages/${encodeURIComponent(d.messageId)}`}>
                      {d.messageId}
                    </a>
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td>{d.lastStatus ?? '–'}</td>
                  <td class="mono">{d.lastError ?? '–'}</td>
                  <td>
                    <Time ms={d.finishedAt} />
                  </td>
                </tr>
              ))}
            </Table>
          </section>
        ))}
      <h2>Alert log</h2>
      {props.alerts.length === 0 ? <p class="muted">No alert has been raised.</p> : alertTable(props.alerts, 'Alerts, newest first')}
      <Pager base="/ui/webhooks" params={{ alerts_before: props.alertsBefore }} next={props.alertsNext} cursorName="alerts_before" />
    </Layout>
  );
}
