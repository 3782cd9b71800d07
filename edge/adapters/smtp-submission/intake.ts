/**
 * The MX of the return-path domain and of the FBL mailboxes: DSNs (RFC 3464) sent to a VERP
 * address (`bounces+<job>@…`, shared/verp.ts) and ARF reports (RFC 5965) sent to an FBL address
 * go through the feedback path of `POST /v1/inbound` (edge/services/feedback.ts), as the
 * operator's intake, so a report matches any tenant's job; mail to a List-Unsubscribe mailto
 * (`unsubscribe+<signed token>@…`) unsubscribes as the one-click POST does. A recipient that is
 * none of these is refused at RCPT (550 5.1.1): no backscatter, no open mailbox.
 * The 250 after DATA leaves once the report was recorded.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AppDeps } from '../../ports/app.ts';
import type { Logger } from '../../logger.ts';
import { ApiError } from '../../../shared/errors.ts';
import { jobIdFromVerp } from '../../../shared/verp.ts';
import { invalidMessageReason } from '../../../shared/feedback.ts';
import { takeInbound } from '../../services/feedback.ts';
import { OPERATOR_TENANT } from '../../services/tenancy.ts';
import { readUnsubscribeToken, unsubscribeByToken } from '../../services/unsubscribe.ts';
import { BoundedSMTPServer } from './guards.ts';
import { MAX_RECIPIENTS_PER_MESSAGE } from './submission.ts';
import type { TlsMaterial } from './tls.ts';

/** A report carries part of the original message plus its own parts (as /v1/inbound allows). */
const REPORT_SLACK_BYTES = 256 * 1024;
const INTAKE_CALLER = { tenantId: OPERATOR_TENANT, keyId: 'smtp-intake' };
/** `unsubscribe+<token>@<intake host>`, the mailto of List-Unsubscribe (edge/services/unsubscribe.ts). */
const UNSUBSCRIBE_PREFIX = 'unsubscribe+';

/** The token of an unsubscribe address, as it came (tokens are case-sensitive), or null. */
function unsubscribeTokenOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  return local.toLowerCase().startsWith(UNSUBSCRIBE_PREFIX) ? local.slice(UNSUBSCRIBE_PREFIX.length) : null;
}

export interface IntakeOptions {
  deps: AppDeps;
  tls: TlsMaterial;
  hostname: string;
  maxMessageBytes: number;
  /** FBL mailboxes (lower case) whose reports are taken; their reports name the job themselves. */
  fblAddresses: Set<string>;
  logger: Logger;
}

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

function readReport(stream: SMTPServerDataStream, maxBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(stream.sizeExceeded || size > maxBytes ? null : Buffer.concat(chunks).toString('utf8')));
  });
}

export function intakeServer(opts: IntakeOptions): BoundedSMTPServer {
  const { deps, logger } = opts;
  const maxBytes = opts.maxMessageBytes + REPORT_SLACK_BYTES;
  const count = (result: string) => deps.metrics.inc('postlane_smtp_messages_total', { listener: 'intake', result });

  /** Whether mail to `address` is ours to take: a live VERP address, an FBL mailbox, or a signed unsubscribe address. */
  async function known(address: string): Promise<boolean> {
    const lower = address.toLowerCase();
    if (opts.fblAddresses.has(lower)) return true;
    const token = unsubscribeTokenOf(address);
    if (token !== null) return (await readUnsubscribeToken(deps, token)) !== null;
    const jobId = jobIdFromVerp(lower);
    if (!jobId) return false;
    const [job] = await deps.store.jobsByIds([jobId]);
    return Boolean(job);
  }

  /** RFC 2369 mailto unsubscribe: whatever the message says, mail to the address is the request. */
  async function unsubscribe(token: string, session: SMTPServerSession): Promise<string> {
    const outcome = await unsubscribeByToken(deps, token, 'mailto');
    logger.info({ remote: session.remoteAddress, ok: outcome.ok }, 'SMTP intake: mailto unsubscribe');
    return outcome.ok ? `unsubscribed ${outcome.claim.recipient}${outcome.newlySuppressed ? '' : ' (already)'}` : 'unsubscribe token not valid';
  }

  async function take(raw: string, session: SMTPServerSession): Promise<string> {
    const outcomes: string[] = [];
    const reportRcpts: string[] = [];
    for (const { address } of session.envelope.rcptTo) {
      const token = unsubscribeTokenOf(address);
      if (token !== null) outcomes.push(await unsubscribe(token, session));
      else reportRcpts.push(address.toLowerCase());
    }
    if (reportRcpts.length === 0) return `2.0.0 OK: ${outcomes.join('; ')}`.slice(0, 400);
    const why = invalidMessageReason(raw);
    if (why) throw smtpError(554, `5.6.0 not a report: ${why}`);
    const now = Date.now();
    const verps = reportRcpts.filter((r) => jobIdFromVerp(r) !== null);
    // Each VERP recipient names its own job; an FBL report names its job inside.
    const targets: Array<string | null> = verps.length ? verps : [null];
    for (const envelopeTo of targets) {
      const result = await takeInbound(deps, INTAKE_CALLER, raw, envelopeTo, now);
      outcomes.push(
        result.matched ? `${result.kind} for ${result.job_id}${result.actions.length ? ` (${result.actions.join(', ')})` : ''}` : `${result.kind}, unmatched`,
      );
      logger.info(
        { remote: session.remoteAddress, envelopeTo, matched: result.matched, kind: result.kind, job: result.job_id, actions: result.actions },
        'SMTP intake: report taken',
      );
    }
    return `2.0.0 OK: report taken: ${outcomes.join('; ')}`.slice(0, 400);
  }

  return new BoundedSMTPServer({
    key: opts.tls.key,
    cert: opts.tls.cert,
    name: opts.hostname,
    banner: 'Postlane ESMTP intake',
    size: maxBytes,
    // An MX takes mail from any MTA without AUTH; STARTTLS is offered (opportunistic, RFC 3207).
    authOptional: true,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS_PER_MESSAGE) {
        return callback(smtpError(452, `4.5.3 too many recipients: at most ${MAX_RECIPIENTS_PER_MESSAGE} per message`));
      }
      known(address.address).then(
        (ok) => callback(ok ? undefined : smtpError(550, `5.1.1 <${address.address}>: no such recipient here (not a live return path, feedback or unsubscribe address)`)),
        (error: Error) => {
          logger.warn({ err: error }, 'SMTP intake: recipient check failed');
          callback(smtpError(451, '4.3.0 the recipient cannot be checked now; try again later'));
        },
      );
    },
    onData(stream, session, callback) {
      readReport(stream, maxBytes)
        .then(async (raw) => {
          if (raw === null) {
            count('too_large');
            return callback(smtpError(552, `5.3.4 report exceeds the size limit of ${maxBytes} bytes`));
          }
          const message = await take(raw, session);
          count('accepted');
          (callback as (err: Error | null, message: string) => void)(null, message);
        })
        .catch((error: Error & { responseCode?: number }) => {
          if (error.responseCode) {
            count('refused');
            return callback(error);
          }
          count('deferred');
          const unavailable = error instanceof ApiError && error.status === 503;
          logger.error({ err: error, remote: session.remoteAddress }, 'SMTP intake failed');
          callback(
            smtpError(451, unavailable ? '4.3.0 the store is unavailable; try again later' : '4.3.0 local error while taking the report; try again later'),
          );
        });
    },
  });
}
