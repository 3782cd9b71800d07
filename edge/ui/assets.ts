/**
 * The dashboard's static files, served from memory under fingerprinted names
 * (`/ui/assets/<name>.<sha256 prefix>.<ext>`) with a year's immutable cache: a new build has new
 * names, so nothing stale is ever served. The page's own CSS and script are ours (./static/);
 * uPlot's build comes from the runtime, because reading a package's file as text is the one thing
 * the two runtimes do differently: the Node entry reads node_modules (edge/adapters/ui-assets.ts),
 * the Worker imports it as a Text module that wrangler bundles (edge/ui/worker-assets.ts,
 * `[[rules]]` in wrangler.toml). No asset is fetched from a third party.
 */
import { APP_CSS } from './static/app-css.ts';
import { APP_JS } from './static/app-js.ts';

/** uPlot's browser build (dist/uPlot.iife.min.js, dist/uPlot.min.css), as text. */
export interface UplotSource {
  js: string;
  css: string;
}

export interface UiAsset {
  body: string;
  type: string;
}

export interface UiAssets {
  /** The fingerprinted URL of a logical asset; null when this runtime was given none (charts are then not drawn). */
  url(name: 'app.css' | 'app.js' | 'uplot.js' | 'uplot.css'): string | null;
  /** By fingerprinted file name. */
  get(file: string): UiAsset | null;
}

const TYPES: Record<string, string> = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' };

async function fingerprint(body: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function buildUiAssets(uplot: UplotSource | null): Promise<UiAssets> {
  const sources: Array<[string, string]> = [
    ['app.css', APP_CSS],
    ['app.js', APP_JS],
  ];
  if (uplot) sources.push(['uplot.js', uplot.js], ['uplot.css', uplot.css]);
  const urls = new Map<string, string>();
  const files = new Map<string, UiAsset>();
  for (const [name, body] of sources) {
    const dot = name.lastIndexOf('.');
    const ext = name.slice(dot + 1);
    const file = `${name.slice(0, dot)}.${await fingerprint(body)}.${ext}`;
    urls.set(name, `/ui/assets/${file}`);
    files.set(file, { body, type: TYPES[ext] });
  }
  return {
    url: (name) => urls.get(name) ?? null,
    get: (file) => files.get(file) ?? null,
  };
}
