/** uPlot's browser build for the dashboard, read from the installed package (Node entry). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { UplotSource } from '../ui/assets.ts';

export function nodeUplotSource(): UplotSource {
  const require = createRequire(import.meta.url);
  // The package's own files, resolved like any import: no copy of them lives in the repo.
  const dist = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  return { js: dist('uPlot.iife.min.js'), css: dist('uPlot.min.css') };
}
