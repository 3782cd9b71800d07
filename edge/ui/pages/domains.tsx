/** Domains: each sending domain's status and the DNS records it needs, with what the last check found. */
import type { DomainView } from '../../../shared/api.ts';
import { Badge, Layout, Pager, Table, Time, type PageContext } from '../layout.tsx';

export function domainsPage(page: PageContext, props: { domains: DomainView[]; total: number; pageNumber: number; next: string | null }) {
  return (
    <Layout title="Domains" page={page}>
      {props.total === 0 ? (
        <p class="muted">No sending domain yet: add one with POST /v1/domains.</p>
      ) : (
        <>
          <Table caption="Sending domains" head={['Domain', 'Status', 'DKIM', 'Return path', 'Checked', 'Verified']}>
            {props.domains.map((d) => (
              <tr>
                <td>
                  <a href={`#${d.id}`}>{d.domain}</a>
                </td>
                <td>
                  <Badge state={d.status} />
                </td>
                <td class="mono">
                  {d.dkim_selector} ({d.dkim_algorithm})
                </td>
                <td>{d.return_path_domain}</td>
                <td>{d.checked_at ? <Time ms={Date.parse(d.checked_at)} /> : 'never'}</td>
                <td>{d.verified_at ? <Time ms={Date.parse(d.verified_at)} /> : '–'}</td>
              </tr>
            ))}
          </Table>
          {props.domains.map((d) => (
            <section aria-labelledby={`h-${d.id}`}>
              <h2 id={`h-${d.id}`}>
                <a id={d.id} href={`#${d.id}`}>
                  {d.domain}
                </a>{' '}
                <Badge state={d.status} />
              </h2>
              {d.check_error && <p class="bad">Last check: {d.check_error}</p>}
              <Table caption={`DNS records of ${d.domain}`} head={['Purpose', 'Type', 'Name', 'Value to publish', 'Last check', 'Found / note']}>
                {d.dns_records.map((r) => (
                  <tr>
                    <td>
                      {r.purpose}
                      {r.optional ? <span class="muted"> (optional)</span> : null}
                    </td>
                    <td>{r.type}</td>
                    <td class="mono">{r.name}</td>
                    <td class="mono">{r.value}</td>
                    <td>
                      <Badge state={r.status} />
                    </td>
                    <td class="mono">{[r.found, r.note].filter(Boolean).join(' · ') || '–'}</td>
                  </tr>
                ))}
              </Table>
            </section>
          ))}
          <Pager base="/ui/domains" params={{ page: props.pageNumber > 1 ? String(props.pageNumber) : undefined }} next={props.next} cursorName="page" />
        </>
      )}
    </Layout>
  );
}
