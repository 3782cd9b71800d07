/**
 * zod's `z.core` for the Worker bundle (see ./zod-worker.ts): zod 4.1's v4/core/index.js line for
 * line, except `locales` (only `en`). zod's own core re-exports all 48 locales as a namespace.
 */
import en from '../../node_modules/zod/v4/locales/en.js';

export * from '../../node_modules/zod/v4/core/core.js';
export * from '../../node_modules/zod/v4/core/parse.js';
export * from '../../node_modules/zod/v4/core/errors.js';
export * from '../../node_modules/zod/v4/core/schemas.js';
export * from '../../node_modules/zod/v4/core/checks.js';
export * from '../../node_modules/zod/v4/core/versions.js';
export * as util from '../../node_modules/zod/v4/core/util.js';
export * as regexes from '../../node_modules/zod/v4/core/regexes.js';
export const locales = { en };
export * from '../../node_modules/zod/v4/core/registries.js';
export * from '../../node_modules/zod/v4/core/doc.js';
export * from '../../node_modules/zod/v4/core/api.js';
export * from '../../node_modules/zod/v4/core/to-json-schema.js';
export * as JSONSchema from '../../node_modules/zod/v4/core/json-schema.js';
