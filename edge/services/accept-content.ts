/**
 * What accept takes from the content of a send: a stored template or the message's own subject
 * and parts, and the one-click unsubscribe of bulk lanes (edge/services/unsubscribe.ts), which
 * a template may show as {{unsubscribe_url}}.
 */
import type { Lane, SendMessage } from '../../shared/api.ts';
import type { Mailbox } from '../../shared/address.ts';
import { headerTextProblem } from '../../shared/header-field.ts';
import { invalid } from '../../shared/errors.ts';
import type { AcceptContext, FieldNames } from './accept.ts';
import { carriesUnsubscribe, UNSUBSCRIBE_HEADER_NAMES, type UnsubscribeLinks } from './unsubscribe.ts';
import { renderTemplate, type RenderedContent } from './templates.ts';

/** Either a stored template or the message's own subject and body (text, html or both). */
export function checkContentFields(body: SendMessage, at: FieldNames['at']) {
  if (body.template_id !== undefined) {
    for (const field of ['subject', 'text', 'html'] as const) {
      if (body[field] !== undefined) throw invalid(at(field), 'cannot be given with template_id: the template supplies subject, text and html');
    }
    return;
  }
  if (body.template_version !== undefined) throw invalid(at('template_version'), 'is given without template_id');
  if (body.variables !== undefined) throw invalid(at('variables'), 'is given without template_id');
  if (body.subject === undefined) throw invalid(at('subject'), 'is required (or give template_id)');
  if (body.text === undefined && body.html === undefined) throw invalid(at('text'), 'one of text or html is required');
}

/** RFC 8058 headers are the platform's on bulk mail: the tenant can neither drop nor replace them. */
export function refuseUnsubscribeHeaders(headers: Record<string, string>, lane: Lane, at: FieldNames['at']) {
  for (const name of Object.keys(headers)) {
    if ((UNSUBSCRIBE_HEADER_NAMES as readonly string[]).includes(name.toLowerCase())) {
      throw invalid(at(`headers.${name}`), `is set by Postlane on ${lane} mail (one-click unsubscribe, RFC 8058) and cannot be overridden`);
    }
  }
}

/**
 * Bulk-lane mail carries a one-click unsubscribe bound to its recipient, so it goes to one
 * recipient per message (a list's copy to many would unsubscribe whoever clicks first).
 */
export async function unsubscribeFor(
  ctx: AcceptContext,
  m: { lane: Lane; recipients: Map<string, { mailbox: Mailbox }>; messageId: string; from: Mailbox },
  at: FieldNames['at'],
): Promise<UnsubscribeLinks | null> {
  if (!carriesUnsubscribe(m.lane)) return null;
  if (m.recipients.size > 1) {
    throw invalid(at('to'), `${m.lane} mail goes to one recipient per message: its one-click unsubscribe (RFC 8058) is bound to that recipient; send one message each (POST /v1/messages/batch takes up to 1,000)`);
  }
  if (!ctx.unsubscribe) throw new Error(`accept has no unsubscribe signer for ${m.lane} mail`);
  const [{ mailbox }] = m.recipients.values();
  return ctx.unsubscribe({ tenantId: ctx.tenantId, recipient: mailbox.address, lane: m.lane, senderDomain: m.from.domain, messageId: m.messageId });
}

/** The message's subject and parts: rendered from its stored template, or as given. */
export async function contentOf(body: SendMessage, ctx: AcceptContext, m: { lane: Lane; unsubscribeUrl: string | null }, { at, wrap }: FieldNames): Promise<RenderedContent> {
  if (body.template_id === undefined) return { subject: body.subject!, text: body.text ?? null, html: body.html ?? null };
  const version = ctx.template ? await ctx.template(body.template_id, body.template_version ?? null) : null;
  if (!version) {
    throw invalid(at(body.template_version !== undefined ? 'template_version' : 'template_id'), `no template ${body.template_id}${body.template_version !== undefined ? ` version ${body.template_version}` : ''} for this tenant`);
  }
  const rendered = renderTemplate(version, body.variables ?? {}, { bulk: carriesUnsubscribe(m.lane), unsubscribeUrl: m.unsubscribeUrl, lane: m.lane, field: at });
  // Variables may hold anything: the rendered subject is a header value like any other.
  const problem = headerTextProblem(rendered.subject);
  if (problem) wrap(() => {
    throw invalid('subject', `${problem} (rendered from template ${body.template_id})`);
  });
  return rendered;
}
