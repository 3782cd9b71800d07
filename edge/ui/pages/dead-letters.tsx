/** Dead letters: jobs whose retries are spent or that were refused for good, with their reason chain; replay (send scope, as the API). */
import type { z } from '@hono/zod-openapi';
import type { DeadLetterSchema } from '../../../shared/api-operator.ts';
import { LANES } from '../../../shared/api.ts';
import { hasScope } from '../session.ts';
import { Badge, Csrf, Layout, Notice, Pager, Table, Time, type PageContext, Choice } from '../layout.tsx';

export interface DeadLetterFilters {
  reason_class?: string;
  provider?: string;
  domain?: string;
  lane?: string;
  replayed?: string;
  cursor?: string;
}

type DeadLetter = z.infer<typeof DeadLetterSchema>;

export function deadLettersPage(page: PageContext, props: { filters: DeadLetterFilters; rows: DeadLetter[]; next: string | null; notice?: string }) {
  const f = props.filters;
  const canReplay = hasScope(page.caller, 'send');
  return (
    <Layout title="Dead letters" page={page}>
      {props.notice && <Notice>{props.notice}</Notice>}
      <form class="filters" method="get" action="/ui/dead-letters" aria-label="Filter dead letters">
        <label>
          Reason class
          <input name="reason_class" value={f.reason_class ?? ''} placeholder="hard_bounce" maxlength={64} />
        </label>
        <label>
          Provider
          <input name="provider" value={f.provider ?? ''} maxlength={64} />
        </label>
        <label>
          Recipient domain
          <input name="domain" value={f.domain ?? ''} maxlength={255} />
        </label>
        <Choice label="Lane" name="lane" values={LANES} selected={f.lane} any="any" />
        <label>
          Replayed
          <select name="replayed">
            <option value="">either</option>
            <option value="false" selected={f.replayed === 'false'}>
              not yet
            </option>
            <option value="true" selected={f.replayed === 'true'}>
              yes
            </option>
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      {props.rows.length === 0 ? (
        <p class="muted">No dead letter matches.</p>
      ) : (
        <Table caption="Dead letters, newest first" head={['Recipient', 'State', 'Reason chain', 'Provider', 'Attempts', 'Dead since', 'Replay']}>
          {props.rows.map((d) => (
            <tr>
              <td>
                {d.recipient}
                <div>
                  <a class="mono" href={`/ui/messages/${encodeURIComponent(d.message_id)}`}>
                    {d.message_id}
                  </a>
                </div>
              </td>
              <td>
                <Badge state={d.state} />
                {d.reason_class ? <div class="muted">{d.reason_class}</div> : null}
              </td>
              <td>
                <ol>
                  {d.reason_chain.map((r) => (
                    <li>
                      <Time ms={Date.parse(r.at)} /> {r.reason}
                    </li>
                  ))}
                </ol>
              </td>
              <td>{d.provider}</td>
              <td class="num">{d.attempts}</td>
              <td>{d.dead_at ? <Time ms={Date.parse(d.dead_at)} /> : '–'}</td>
              <td>
                {d.replayed_by ? (
                  <span class="muted">replayed as {d.replayed_by}</span>
                ) : canReplay ? (
                  <form class="inline" method="post" action="/ui/dead-letters/replay" data-confirm={`Send to ${d.recipient} again?`}>
                    <Csrf page={page} />
                    <input type="hidden" name="job" value={d.job_id} />
                    <button type="submit" aria-label={`Replay to ${d.recipient}`}>
                      Replay
                    </button>
                  </form>
                ) : (
                  '–'
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Pager base="/ui/dead-letters" params={{ ...f }} next={props.next} />
    </Layout>
  );
}
