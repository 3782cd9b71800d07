/** The template API's bodies (`/v1/templates`, SPEC §7), zod → OpenAPI. */
import { z } from '@hono/zod-openapi';

const Content = {
  /** Mustache; not HTML-escaped (it is a header), checked as a header value after rendering. */
  subject: z.string().min(1).max(998),
  /** Mustache, not escaped. Absent with html given: generated from the HTML at send. */
  text: z.string().max(1_000_000).optional(),
  /** Mustache, `{{var}}` HTML-escaped (`{{{var}}}` not). Bulk lanes need `{{unsubscribe_url}}` in it. */
  html: z.string().max(1_000_000).optional(),
};

const name = z.string().min(1).max(128);

export const CreateTemplateSchema = z
  .object({ name, ...Content })
  .strict()
  .openapi('CreateTemplate');

/** A new version: the whole content again (versions are snapshots), and optionally a new name. */
export const TemplateVersionBodySchema = z
  .object({ name: name.optional(), ...Content })
  .strict()
  .openapi('NewTemplateVersion');

export const TemplateVersionSchema = z
  .object({
    version: z.number().int(),
    subject: z.string(),
    text: z.string().nullable(),
    html: z.string().nullable(),
    /** Top-level variables the version's parts read (unsubscribe_url is filled by the platform). */
    variables: z.array(z.string()),
    created_at: z.string(),
  })
  .openapi('TemplateVersion');

export const TemplateSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    current_version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    /** The current version, or the one asked for with `?version=`. */
    content: TemplateVersionSchema,
    /** Every version kept, oldest first (number and time). */
    versions: z.array(z.object({ version: z.number().int(), created_at: z.string() })),
  })
  .openapi('Template');

export const TemplateSummarySchema = z
  .object({ id: z.string(), name: z.string(), current_version: z.number().int(), created_at: z.string(), updated_at: z.string() })
  .openapi('TemplateSummary');

export const TemplateListSchema = z.object({ data: z.array(TemplateSummarySchema) }).openapi('TemplateList');

export const TemplateQuerySchema = z.object({ version: z.coerce.number().int().min(1).optional() });

export type CreateTemplate = z.infer<typeof CreateTemplateSchema>;
export type TemplateVersionBody = z.infer<typeof TemplateVersionBodySchema>;
