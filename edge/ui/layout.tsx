/** The page frame and the small pieces every page uses (server-rendered with hono/jsx). */
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import { raw } from 'hono/html';
import type { Caller } from '../context.ts';
import type { UiAssets } from './assets.ts';
import { CSRF_FIELD } from './session.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';

export interface PageContext {
  caller: Caller;
  csrf: string;
  assets: UiAssets;
  /** The request's path, for the navigation's current page. */
  path: string;
}

export const NAV: Array<{ href: string; label: string }> = [
  { href: '/ui', label: 'Overview' },
  { href: '/ui/providers', label: 'Providers' },
  { href: '/ui/pools', label: 'Pools and IPs' },
  { href: '/ui/domains', label: 'Domains' },
  { href: '/ui/messages', label: 'Messages' },
  { href: '/ui/dead-letters', label: 'Dead letters' },
  { href: '/ui/webhooks', label: 'Webhooks and alerts' },
  { href: '/ui/suppressions', label: 'Suppressions' },
];

const isCurrent = (href: string, path: string) => (href === '/ui' ? path === '/ui' || path === '/ui/' : path === href || path.startsWith(`${href}/`));

export const Document: FC<PropsWithChildren<{ title: string; assets: UiAssets }>> = ({ title, assets, children }) => {
  const uplotCss = assets.url('uplot.css');
  const uplotJs = assets.url('uplot.js');
  return (
    <>
      {raw('<!DOCTYPE html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${title} · Postlane`}</title>
          {uplotCss && <link rel="stylesheet" href={uplotCss} />}
          <link rel="stylesheet" href={assets.url('app.css')!} />
          {uplotJs && <script src={uplotJs} defer />}
          <script src={assets.url('app.js')!} defer />
        </head>
        <body>{children}</body>
      </html>
    </>
  );
};

export const Layout: FC<PropsWithChildren<{ title: string; page: PageContext }>> = ({ title, page, children }) => {
  const operator = page.caller.tenantId === OPERATOR_TENANT;
  return (
    <Document title={title} assets={page.assets}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui">
          Postlane
        </a>
        <nav aria-label="Dashboard">
          <ul>
            {NAV.map((n) => (
              <li>
                <a href={n.href} aria-current={isCurrent(n.href, page.path) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {operator ? 'Platform view' : `Tenant ${page.caller.tenantId}`} · key <code>{page.caller.keyId}</code> ({page.caller.scopes.join(', ')})
          </span>
          <form class="inline" method="post" action="/ui/logout">
            <Csrf page={page} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      </header>
      <main id="main">
        <h1>{title}</h1>
        {children}
      </main>
    </Document>
  );
};

/** A labelled select over a list of values; `any` puts the empty "no filter" option first. */
export const Choice: FC<{ label: string; name: string; values: readonly string[]; selected: string | undefined; any?: string }> = ({ label, name, values, selected, any }) => (
  <label>
    {label}
    <select name={name}>
      {any !== undefined && <option value="">{any}</option>}
      {values.map((v) => (
        <option value={v} selected={selected === v}>
          {v}
        </option>
      ))}
    </select>
  </label>
);

export const Csrf: FC<{ page: PageContext }> = ({ page }) => <input type="hidden" name={CSRF_FIELD} value={page.csrf} />;

export const Notice: FC<PropsWithChildren<{ error?: boolean }>> = ({ error, children }) => (
  <p class={error ? 'notice error' : 'notice'} role={error ? 'alert' : 'status'}>
    {children}
  </p>
);

/** A table in its own scrolling box, with a caption for screen readers. */
export const Table: FC<PropsWithChildren<{ caption: string; head: Child[] }>> = ({ caption, head, children }) => (
  <div class="table-wrap">
    <table>
      <caption class="skip">{caption}</caption>
      <thead>
        <tr>
          {head.map((h) => (
            <th scope="col">{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  </div>
);

/** Keyset paging: "Newer" goes back to the first page, "Older" follows the cursor. */
export const Pager: FC<{ base: string; params: Record<string, string | undefined>; next: string | null; cursorName?: string }> = ({
  base,
  params,
  next,
  cursorName = 'cursor',
}) => {
  const first = withQuery(base, { ...params, [cursorName]: undefined });
  return (
    <nav class="pager" aria-label="Pages">
      {params[cursorName] ? <a href={first}>First page</a> : null}
      {next ? <a href={withQuery(base, { ...params, [cursorName]: next })}>Next page</a> : <span class="muted">End of the list</span>}
    </nav>
  );
};

export function withQuery(base: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

const STATE_TONE: Record<string, string> = {
  delivered: 'ok',
  closed: 'ok',
  verified: 'ok',
  enabled: 'ok',
  complete: 'ok',
  active: 'ok',
  pass: 'ok',
  ok: 'ok',
  queued: 'warn',
  leased: 'warn',
  deferred: 'warn',
  slow_start: 'warn',
  pending: 'warn',
  unchecked: 'warn',
  partial: 'warn',
  bounced: 'bad',
  failed: 'bad',
  open: 'bad',
  suppressed: 'bad',
  complained: 'bad',
  disabled: 'bad',
  disabled_by_platform: 'bad',
  missing: 'bad',
  mismatch: 'bad',
  expired: 'bad',
};

export const Badge: FC<{ state: string | null | undefined }> = ({ state }) => <span class={`badge ${STATE_TONE[state ?? ''] ?? ''}`}>{state ?? '–'}</span>;

export const Time: FC<{ ms: number | null | undefined }> = ({ ms }) =>
  ms == null ? <span class="muted">–</span> : <time datetime={new Date(ms).toISOString()}>{formatTime(ms)}</time>;

export function formatTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

export function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '–';
}

/** A uPlot chart: series labels and columns [x seconds, y1, y2…]; drawn by app.js. */
export const Chart: FC<{ label: string; series: Array<{ label: string; unit?: string }>; data: Array<Array<number | null>> }> = ({ label, series, data }) => {
  // `<` escaped so no value can close the script element.
  const json = JSON.stringify({ series, data }).replace(/</g, '\\u003c');
  return (
    <figure>
      <div data-chart role="img" aria-label={label}>
        <script type="application/json" dangerouslySetInnerHTML={{ __html: json }} />
      </div>
      <figcaption class="muted">{label}</figcaption>
    </figure>
  );
};
