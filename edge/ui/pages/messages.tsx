/** Messages: the filtered list and one message's trace as a timeline. */
import { JOB_STATES, LANES } from '../../../shared/api.ts';
import type { MessageSummary, MessageWithTrace } from '../../ports/store.ts';
import { messageStatus } from '../../domain/message-status.ts';
import { Badge, Layout, Pager, Table, Time, type PageContext, Choice } from '../layout.tsx';

export const SINCE_CHOICES: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'the last hour', ms: 3600_000 },
  '24h': { label: 'the last 24 hours', ms: 86_400_000 },
  '7d': { label: 'the last 7 days', ms: 7 * 86_400_000 },
};

export interface MessageFilters {
  status?: string;
  lane?: string;
  domain?: string;
  provider?: string;
  since?: string;
  cursor?: string;
}

export function messagesPage(page: PageContext, props: { filters: MessageFilters; rows: MessageSummary[]; next: string | null }) {
  const f = props.filters;
  return (
    <Layout title="Messages" page={page}>
      <form class="filters" method="get" action="/ui/messages" aria-label="Open a message">
        <label>
          Message id
          <input name="id" placeholder="msg_…" pattern="msg_[A-Za-z0-9_\-]+" size={32} />
        </label>
        <button type="submit">Open trace</button>
      </form>
      <form class="filters" method="get" action="/ui/messages" aria-label="Filter messages">
        <Choice label="Status of a recipient" name="status" values={JOB_STATES} selected={f.status} any="any" />
        <Choice label="Lane" name="lane" values={LANES} selected={f.lane} any="any" />
        <label>
          Recipient domain
          <input name="domain" value={f.domain ?? ''} placeholder="gmail.com" maxlength={255} />
        </label>
        <label>
          Provider
          <input name="provider" value={f.provider ?? ''} placeholder="gmail" maxlength={64} />
        </label>
        <label>
          Sent in
          <select name="since">
            <option value="">any time</option>
            {Object.entries(SINCE_CHOICES).map(([k, v]) => (
              <option value={k} selected={f.since === k}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {props.rows.length === 0 ? (
        <p class="muted">No message matches.</p>
      ) : (
        <Table caption="Messages, newest first" head={['Message', 'Status', 'Subject', 'From', 'Lane', 'Recipients', 'Accepted']}>
          {props.rows.map((m) => (
            <tr>
              <td>
                <a class="mono" href={`/ui/messages/${encodeURIComponent(m.id)}`}>
                  {m.id}
                </a>
              </td>
              <td>
                <Badge state={m.status} />
              </td>
              <td>{m.subject}</td>
              <td>{m.fromAddress}</td>
              <td>{m.lane}</td>
              <td class="num">{m.recipients}</td>
              <td>
                <Time ms={m.createdAt} />
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Pager base="/ui/messages" params={{ ...f }} next={props.next} />
    </Layout>
  );
}

const TONE: Record<string, string> = {
  delivered: 'ok',
  accepted: 'ok',
  deferred: 'warn',
  throttled: 'warn',
  lease_expired: 'warn',
  lease_released: 'warn',
  waiting: 'warn',
  bounced: 'bad',
  failed: 'bad',
  complained: 'bad',
  suppressed: 'bad',
};

/** The facts of an event worth a line: where it went and what the server said. */
function eventDetail(type: string, data: Record<string, unknown> | null): Array<[string, string]> {
  if (!data) return [];
  const pick = (keys: string[]) =>
    keys
      .filter((k) => data[k] !== undefined && data[k] !== null && data[k] !== '')
      .map((k): [string, string] => [k, typeof data[k] === 'object' ? JSON.stringify(data[k]) : String(data[k])]);
  switch (type) {
    case 'delivered':
    case 'deferred':
    case 'bounced':
      return pick(['attempt', 'mx', 'ip', 'tls', 'reply', 'class', 'rule', 'next_attempt_at', 'node', 'diagnostic']);
    case 'leased':
      return pick(['node', 'attempt', 'pool', 'lease_id']);
    case 'accepted':
      return pick(['recipients', 'lane', 'pool', 'size_bytes']);
    default:
      return pick(Object.keys(data)).slice(0, 8);
  }
}

export function tracePage(page: PageContext, found: MessageWithTrace) {
  const { message, jobs, events } = found;
  const recipientOf = new Map(jobs.map((j) => [j.id, j.recipient]));
  return (
    <Layout title={`Message ${message.id}`} page={page}>
      <p>
        <a href="/ui/messages">All messages</a>
      </p>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <Badge state={messageStatus(jobs.map((j) => j.state))} />
        </dd>
        <dt>Subject</dt>
        <dd>{message.subject}</dd>
        <dt>From</dt>
        <dd>{message.fromAddress}</dd>
        <dt>Lane, pool</dt>
        <dd>
          {message.lane}, {message.pool}
        </dd>
        <dt>Message-ID</dt>
        <dd class="mono">{message.messageIdHeader}</dd>
        <dt>Accepted</dt>
        <dd>
          <Time ms={message.createdAt} />
        </dd>
      </dl>
      <h2>Recipients</h2>
      <Table caption="Recipients and their delivery state" head={['Recipient', 'State', 'Provider', 'Pool', 'Attempts', 'Last reply']}>
        {jobs.map((j) => (
          <tr>
            <td>{j.recipient}</td>
            <td>
              <Badge state={j.state} />
            </td>
            <td>{j.provider}</td>
            <td>{j.pool}</td>
            <td class="num">{j.attempts}</td>
            <td class="mono">{j.lastReply ?? '–'}</td>
          </tr>
        ))}
      </Table>
      <h2>Trace</h2>
      <ol class="timeline" aria-label="Events in order">
        {events.map((e) => (
          <li class={TONE[e.type] ?? ''}>
            <span class="when">
              <Time ms={e.at} />
            </span>{' '}
            <span class="what">{e.type}</span>
            {e.jobId && recipientOf.has(e.jobId) ? <span> · {recipientOf.get(e.jobId)}</span> : null}
            {eventDetail(e.type, e.data).length > 0 && (
              <dl class="facts">
                {eventDetail(e.type, e.data).map(([k, v]) => (
                  <>
                    <dt>{k}</dt>
                    <dd class="mono">{v}</dd>
                  </>
                ))}
              </dl>
            )}
          </li>
        ))}
      </ol>
    </Layout>
  );
}
