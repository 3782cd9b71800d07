/** The Hono environment every route sees: the app's ports and the caller's identity. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from './ports/app.ts';

export interface Caller {
  tenantId: string;
  keyId: string;
  scopes: string[];
  /** The key's name, for the audit log. */
  name?: string | null;
}

export type AppEnv = {
  Variables: {
    deps: AppDeps;
    caller: Caller;
  };
};

export type App = OpenAPIHono<AppEnv>;
