/**
 * Stored templates (SPEC §7: "templates with variables and safe defaults"). Subject, text and
 * HTML are Mustache templates (`mustache`, logic-less, no code in templates): in HTML a `{{var}}`
 * is HTML-escaped (`{{{var}}}` is not); subject and text are plain text and are not escaped (the
 * subject is checked as a header value after rendering, so a variable cannot inject a header).
 *
 * Safe defaults: a template given only HTML gets a plain-text part generated from it
 * (edge/services/html-text.ts); bulk-lane mail (lifecycle, outreach) must show the unsubscribe
 * link, so a template without `{{unsubscribe_url}}` in its HTML is refused at send there; and a
 * variable the template uses but the send does not give is refused by name, never rendered empty.
 */
import Mustache from 'mustache';
import { invalid } from '../../shared/errors.ts';
import type { TemplateContent, TemplateVersionRecord } from '../ports/templates.ts';
import { htmlToText } from './html-text.ts';

/** The variable the platform fills with the recipient's one-click unsubscribe URL. */
export const UNSUBSCRIBE_VARIABLE = 'unsubscribe_url';

type Token = [string, string, number, number, Token[]?, number?];

/** Mustache tags that read a value: `{{x}}`, `{{{x}}}`/`{{& x}}`, and `{{#x}}` sections. */
const VALUE_TAGS = new Set(['name', '&', '#']);

function parse(field: string, template: string): Token[] {
  try {
    return Mustache.parse(template) as Token[];
  } catch (error) {
    throw invalid(field, `not a valid Mustache template: ${(error as Error).message}`);
  }
}

/**
 * The top-level variable names a template reads (outside sections, whose names resolve against
 * the section's item first). Partials are refused: a stored template is self-contained.
 */
export function templateVariables(field: string, template: string): string[] {
  const names = new Set<string>();
  for (const token of parse(field, template)) {
    if (token[0] === '>') throw invalid(field, `partials ({{> ${token[1]}}}) are not supported; put the text in the template`);
    if (VALUE_TAGS.has(token[0]) && token[1] !== '.') names.add(token[1]);
    // Partials inside sections are refused too.
    if (token[4]) walkSections(field, token[4]);
  }
  return [...names];
}

function walkSections(field: string, tokens: Token[]) {
  for (const token of tokens) {
    if (token[0] === '>') throw invalid(field, `partials ({{> ${token[1]}}}) are not supported; put the text in the template`);
    if (token[4]) walkSections(field, token[4]);
  }
}

/** Checks a template's parts at create and PUT: parseable, no partials, subject given, a body given. */
export function checkTemplateContent(content: TemplateContent): void {
  if (content.text === null && content.html === null) throw invalid('html', 'one of text or html is required');
  templateVariables('subject', content.subject);
  if (content.text !== null) templateVariables('text', content.text);
  if (content.html !== null) templateVariables('html', content.html);
}

/** Whether a dotted name (`user.first_name`) resolves in the variables, as Mustache looks it up. */
function resolves(variables: Record<string, unknown>, name: string): boolean {
  let at: unknown = variables;
  for (const part of name.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return false;
    at = (at as Record<string, unknown>)[part];
  }
  return at !== undefined && at !== null;
}

export interface RenderedContent {
  subject: string;
  text: string | null;
  html: string | null;
}

/** Text parts are not HTML: a variable goes in as it is. */
const plain = { escape: (value: string) => value };

/**
 * Renders one version for one send. `unsubscribeUrl` is the recipient's link in bulk lanes (null
 * in transactional, where there is none). Throws a 400 naming the missing variable, or the
 * missing unsubscribe link in a bulk lane.
 */
export function renderTemplate(
  version: TemplateVersionRecord,
  given: Record<string, unknown>,
  opts: { bulk: boolean; unsubscribeUrl: string | null; lane: string; field: (name: string) => string },
): RenderedContent {
  const parts = { subject: version.subject, text: version.text, html: version.html };
  if (opts.bulk) {
    const body = version.html ?? version.text ?? '';
    const where = version.html !== null ? 'html' : 'text';
    if (!templateVariables(where, body).includes(UNSUBSCRIBE_VARIABLE)) {
      throw invalid(
        opts.field('template_id'),
        `template ${version.templateId} version ${version.version} has no {{${UNSUBSCRIBE_VARIABLE}}} in its ${where}; ${opts.lane} mail must show the unsubscribe link (add it, PUT /v1/templates/${version.templateId}, and send again)`,
      );
    }
  }
  const variables: Record<string, unknown> = { ...given };
  if (opts.unsubscribeUrl !== null) variables[UNSUBSCRIBE_VARIABLE] = opts.unsubscribeUrl;
  for (const [part, template] of Object.entries(parts)) {
    if (template === null) continue;
    for (const name of templateVariables(part, template)) {
      if (resolves(variables, name)) continue;
      const why =
        name === UNSUBSCRIBE_VARIABLE
          ? `${opts.lane} mail carries no unsubscribe link; ${UNSUBSCRIBE_VARIABLE} is given in lifecycle and outreach mail only`
          : `the template's ${part} uses {{${name}}}; give it in variables`;
      throw invalid(opts.field(`variables.${name}`), `missing variable ${name}: ${why}`);
    }
  }
  const html = version.html === null ? null : Mustache.render(version.html, variables);
  const text = version.text === null ? null : Mustache.render(version.text, variables, {}, plain);
  return {
    subject: Mustache.render(version.subject, variables, {}, plain),
    html,
    // The plain-text part every mail should have (SPEC §7 safe defaults), from the HTML if need be.
    text: text ?? (html === null ? null : htmlToText(html)),
  };
}

/** A template version as the API shows it. */
export function templateVersionView(v: TemplateVersionRecord) {
  const variables = new Set<string>();
  for (const [part, template] of [['subject', v.subject], ['text', v.text], ['html', v.html]] as const) {
    if (template !== null) for (const name of templateVariables(part, template)) variables.add(name);
  }
  return { version: v.version, subject: v.subject, text: v.text, html: v.html, variables: [...variables], created_at: new Date(v.createdAt).toISOString() };
}

export function contentOf(body: { subject: string; text?: string; html?: string }): TemplateContent {
  const content = { subject: body.subject, text: body.text ?? null, html: body.html ?? null };
  checkTemplateContent(content);
  return content;
}
