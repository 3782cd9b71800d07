/**
 * uPlot's browser build for the dashboard on Workers: wrangler bundles these two files as Text
 * modules (the `[[rules]]` of wrangler.toml), so the Worker serves them with no file system.
 * Only edge/worker.ts imports this module; the Node entry reads the same files from
 * node_modules (edge/adapters/ui-assets.ts).
 */
import uplotJs from 'uplot/dist/uPlot.iife.min.js';
import uplotCss from 'uplot/dist/uPlot.min.css';
import type { UplotSource } from './assets.ts';

export const WORKER_UPLOT: UplotSource = { js: uplotJs, css: uplotCss };
