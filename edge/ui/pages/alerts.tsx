/** The alert log as a table (open and resolved, with the numbers that raised them), for Overview and Webhooks. */
import type { AlertRecord } from '../../ports/stats.ts';
import { Table, Time } from '../layout.tsx';

const numbers = (n: Record<string, unknown> | null) =>
  n
    ? Object.entries(n)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? Math.round(v * 10_000) / 10_000 : JSON.stringify(v)}`)
        .join(', ')
    : '–';

export function alertTable(alerts: AlertRecord[], caption: string) {
  return (
    <Table caption={caption} head={['Alert', 'State', 'Subject', 'Summary', 'Numbers', 'Raised', 'Resolved']}>
      {alerts.map((a) => (
        <tr data-alert={a.rule}>
          <td>{a.rule}</td>
          <td>
            <span class={`badge ${a.state === 'open' ? 'bad' : 'ok'}`}>{a.state}</span>
          </td>
          <td>{a.subject}</td>
          <td>{a.summary}</td>
          <td class="mono">{numbers(a.numbers)}</td>
          <td>
            <Time ms={a.raisedAt} />
          </td>
          <td>
            <Time ms={a.resolvedAt} />
          </td>
        </tr>
      ))}
    </Table>
  );
}
