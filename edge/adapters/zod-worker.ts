/**
 * `zod` for the Worker bundle, without its 48 locales: wrangler.toml's [alias] maps `zod` here,
 * so the bundle carries English messages only (the API answers in English; nothing calls
 * `z.config(z.locales.xx())`). zod's own entry (zod/index.js → v4/classic/external.js) re-exports
 * `locales` as a namespace, which the bundler cannot drop while `z` is used as an object.
 *
 * Three files mirror zod 4.1's own line for line, except `locales` (only `en`): this one its
 * index.js, ./zod-worker-external.ts its v4/classic/external.js, ./zod-worker-core.ts its
 * v4/core/index.js (`z.core`, which re-exports the locales too).
 * zod is pinned exactly in package.json; test/unit/zod-worker.test.ts fails when an upgrade
 * makes the two export different names. Node (tsx) does not use this file: only the bundle does.
 * The alias covers the bare `zod` only: an import of a `zod/…` subpath in Worker code would be
 * rewritten under this file and fail the build, so import `zod` (or `@hono/zod-openapi`).
 */
import * as z from './zod-worker-external.ts';

export * from './zod-worker-external.ts';
export { z };
export default z;
