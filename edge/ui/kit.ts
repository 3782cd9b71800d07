/** What every dashboard page handler shares: its context, form reading with CSRF, zod-checked input. */
import type { Context, Hono } from 'hono';
import { z } from '@hono/zod-openapi';
import { ApiError } from '../../shared/errors.ts';
import type { UiAssets } from './assets.ts';
import type { PageContext } from './layout.tsx';
import { checkCsrf, type UiEnv } from './session.ts';

export type UiApp = Hono<UiEnv>;

/** What a page handler needs besides the request: the asset URLs. */
export interface UiRuntime {
  assets: Promise<UiAssets>;
}

export async function pageContext(c: Context<UiEnv>, rt: UiRuntime): Promise<PageContext> {
  return { caller: c.get('caller'), csrf: c.get('csrf'), assets: await rt.assets, path: c.req.path };
}

/**
 * A form post's fields. The pages' forms are all urlencoded (no uploads). Read as text and parsed
 * here rather than with `parseBody`, because the Node entry may have read the body as text
 * already (edge/adapters/node-body.ts), and Hono rebuilds a form from that without its type.
 */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new ApiError('unsupported_media_type', 'a dashboard form is sent as application/x-www-form-urlencoded', {
      field: 'content-type',
      expected: 'application/x-www-form-urlencoded',
    });
  }
  return Object.fromEntries(new URLSearchParams(await c.req.text()));
}

/** The form of a state-changing POST, after its CSRF token checked out (403 otherwise). */
export async function changeForm(c: Context<UiEnv>): Promise<Record<string, string>> {
  const form = await readForm(c).catch(() => ({}) as Record<string, string>);
  if (!(await checkCsrf(c, form))) throw new ApiError('forbidden', 'the form has no valid CSRF token: reload the page and submit again', { field: '_csrf' });
  return form;
}

/** A zod parse of a query or form: a 400 naming the field, as the API answers. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join('.') || 'form';
    throw new ApiError('invalid_request', `${field}: ${issue.message}`, { field, reason: issue.message });
  }
  return result.data;
}

/** An empty form field means "any": the field is left out. */
export const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
