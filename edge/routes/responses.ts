import type { ZodType } from 'zod';
import { ERROR_CODES } from '../../shared/errors.ts';

const DESCRIPTIONS: Record<number, string> = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, def]) => [def.status, `${code}: ${def.action}`]),
);

/** The OpenAPI error responses of a route, from the one error table. */
export function errorResponses<S extends ZodType>(schema: S, statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? 'error', content: { 'application/json': { schema } } }]),
  ) as Record<number, { description: string; content: { 'application/json': { schema: S } } }>;
}
