/** Suppressions: search, add (send scope, as POST /v1/suppressions), remove (admin, as DELETE). */
import { SUPPRESSION_REASONS } from '../../../shared/api.ts';
import type { SuppressionRecord } from '../../domain/records.ts';
import { hasScope } from '../session.ts';
import { Csrf, Layout, Notice, Pager, Table, Time, type PageContext, Choice } from '../layout.tsx';

export interface SuppressionFilters {
  contains?: string;
  reason?: string;
  cursor?: string;
}

export function suppressionsPage(page: PageContext, props: { filters: SuppressionFilters; rows: SuppressionRecord[]; next: string | null; notice?: string }) {
  const f = props.filters;
  const canAdd = hasScope(page.caller, 'send');
  const canRemove = hasScope(page.caller, 'admin');
  return (
    <Layout title="Suppressions" page={page}>
      {props.notice && <Notice>{props.notice}</Notice>}
      <form class="filters" method="get" action="/ui/suppressions" aria-label="Search suppressions">
        <label>
          Address contains
          <input name="contains" value={f.contains ?? ''} maxlength={320} />
        </label>
        <Choice label="Reason" name="reason" values={SUPPRESSION_REASONS} selected={f.reason} any="any" />
        <button type="submit">Search</button>
      </form>
      {canAdd ? (
        <form class="filters" method="post" action="/ui/suppressions" aria-label="Add a suppression">
          <Csrf page={page} />
          <label>
            Address to suppress
            <input name="address" type="email" required maxlength={320} />
          </label>
          <Choice label="Reason" name="reason" values={SUPPRESSION_REASONS} selected="manual" />
          <label>
            Note
            <input name="note" maxlength={500} />
          </label>
          <button type="submit">Add</button>
        </form>
      ) : (
        <p class="muted">This key can read the list but not change it.</p>
      )}
      {props.rows.length === 0 ? (
        <p class="muted">No suppressed address matches.</p>
      ) : (
        <Table caption="Suppressed addresses, newest first" head={['Address', 'Reason', 'Source', 'Since', ...(canRemove ? ['Remove'] : [])]}>
          {props.rows.map((r) => (
            <tr>
              <td>{r.address}</td>
              <td>{r.reason}</td>
              <td>{r.messageId ? <a href={`/ui/messages/${encodeURIComponent(r.messageId)}`}>{r.source ?? r.messageId}</a> : (r.source ?? '–')}</td>
              <td>
                <Time ms={r.createdAt} />
              </td>
              {canRemove && (
                <td>
                  <form class="inline" method="post" action="/ui/suppressions/remove" data-confirm={`Send to ${r.address} again?`}>
                    <Csrf page={page} />
                    <input type="hidden" name="address" value={r.address} />
                    <button type="submit" class="danger" aria-label={`Remove ${r.address}`}>
                      Remove
                    </button>
                  </form>
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
      <Pager base="/ui/suppressions" params={{ ...f }} next={props.next} />
    </Layout>
  );
}
