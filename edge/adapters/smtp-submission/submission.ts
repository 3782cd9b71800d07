/**
 * SMTP submission (RFC 6409) with smtp-server: STARTTLS (RFC 3207) on the submission port and
 * implicit TLS (RFC 8314 §3.3) on the other, AUTH PLAIN / LOGIN (RFC 4954) with an API key of
 * scope `send` as the password, only over TLS. A message takes the send path of
 * `POST /v1/messages` through the app itself (edge/services/submission.ts maps it), so
 * validation, idempotency, suppression, rate limits and lanes are the API's, and the 250 after
 * DATA leaves only once the API answered 202, i.e. after the store commit. A client that drops
 * before the final `.` leaves nothing: the message is handed on only when DATA ended.
 */
import type { SMTPServerAuthentication, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { AppDeps } from '../../ports/app.ts';
import type { Logger } from '../../logger.ts';
import { ApiError } from '../../../shared/errors.ts';
import { parseMailbox } from '../../../shared/address.ts';
import { checkApiKey } from '../../middleware/auth.ts';
import { smtpAnswer, submissionRequest, type SubmittedAddress, type SubmittedMessage } from '../../services/submission.ts';
import { type AuthFailures, BareNewlineCheck, BoundedSMTPServer } from './guards.ts';
import type { TlsMaterial } from './tls.ts';

/** RFC 5321 §4.5.3.1.8 asks servers to take at least 100; past this RCPT answers 452. */
export const MAX_RECIPIENTS_PER_MESSAGE = 100;

/** The app's fetch: the listener calls the API in-process, so every check is the route's own. */
export type AppFetch = (request: Request) => Response | Promise<Response>;

export interface SubmissionOptions {
  deps: AppDeps;
  fetch: AppFetch;
  tls: TlsMaterial;
  /** Implicit TLS (the 465 listener); otherwise plain with STARTTLS (587). */
  implicitTls: boolean;
  hostname: string;
  maxMessageBytes: number;
  authFailures: AuthFailures;
  logger: Logger;
}

/** What AUTH leaves on the session: the key the DATA request is made with. */
interface SubmissionUser {
  apiKey: string;
  tenantId: string;
  keyId: string;
}

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

const addresses = (field: AddressObject | AddressObject[] | undefined): SubmittedAddress[] =>
  (Array.isArray(field) ? field : field ? [field] : [])
    .flatMap((o) => o.value)
    .flatMap((a) => (a.group ? a.group : [a]))
    .filter((a) => a.address)
    .map((a) => ({ address: a.address!, ...(a.name ? { name: a.name } : {}) }));

function submitted(parsed: ParsedMail): SubmittedMessage {
  return {
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    replyTo: addresses(parsed.replyTo),
    subject: parsed.subject,
    text: parsed.text,
    html: typeof parsed.html === 'string' ? parsed.html : undefined,
    headerLines: parsed.headerLines,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, contentId: a.cid })),
    messageId: parsed.messageId,
  };
}

/** Reads DATA to its end: the bytes (up to the limit), whether it passed the limit, and whether it had a bare CR or LF. */
function readData(stream: SMTPServerDataStream, maxBytes: number): Promise<{ raw: Buffer | null; bareNewline: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const bare = new BareNewlineCheck();
    stream.on('data', (chunk: Buffer) => {
      bare.feed(chunk);
      size += chunk.length;
      // Past the limit the rest is read (the client must reach the final dot) and dropped.
      if (size <= maxBytes && !bare.found) chunks.push(chunk);
      else chunks.length = 0;
    });
    stream.on('error', reject);
    stream.on('end', () => resolve({ raw: stream.sizeExceeded || size > maxBytes ? null : Buffer.concat(chunks), bareNewline: bare.end() }));
  });
}

export function submissionServer(opts: SubmissionOptions): BoundedSMTPServer {
  const { deps, logger, authFailures } = opts;
  const listener = opts.implicitTls ? 'submissions' : 'submission';
  const count = (result: string) => deps.metrics.inc('postlane_smtp_messages_total', { listener, result });

  async function onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: { user: SubmissionUser }) => void,
  ) {
    const now = Date.now();
    const wait = authFailures.blockedFor(session.remoteAddress, now);
    if (wait > 0) {
      deps.metrics.inc('postlane_smtp_auth_failures_total', { reason: 'rate_limited' });
      return callback(smtpError(454, `4.7.0 too many failed AUTH attempts from ${session.remoteAddress}; try again in ${wait} s`));
    }
    const fail = (reason: string, message: string) => {
      authFailures.fail(session.remoteAddress, now);
      deps.metrics.inc('postlane_smtp_auth_failures_total', { reason });
      logger.warn({ remote: session.remoteAddress, method: auth.method, username: auth.username, reason }, 'SMTP AUTH refused');
      callback(smtpError(535, `5.7.8 ${message}`));
    };
    const key = auth.password ?? '';
    try {
      const record = await checkApiKey(deps, key, 'send');
      logger.info({ remote: session.remoteAddress, method: auth.method, tenant: record.tenantId, key: record.keyId }, 'SMTP AUTH accepted');
      callback(null, { user: { apiKey: key, tenantId: record.tenantId, keyId: record.keyId } });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) {
        logger.warn({ err: error }, 'SMTP AUTH: the key could not be checked');
        return callback(smtpError(454, '4.7.0 the key cannot be checked now (store unavailable); try again later'));
      }
      if (error.code === 'forbidden') return fail('scope', 'this API key lacks the "send" scope');
      fail('unknown_key', 'authentication failed: the password must be an API key with the "send" scope');
    }
  }

  async function submit(raw: Buffer, session: SMTPServerSession): Promise<{ code: number; message: string }> {
    const user = session.user as unknown as SubmissionUser;
    const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
    let request: Awaited<ReturnType<typeof submissionRequest>>;
    try {
      request = await submissionRequest(
        submitted(parsed),
        session.envelope.rcptTo.map((r) => r.address),
      );
    } catch (error) {
      if (error instanceof ApiError) return smtpAnswer(error.status, error.toBody());
      throw error;
    }
    const body = JSON.stringify(request.body);
    const response = await opts.fetch(
      new Request('http://smtp-submission.internal/v1/messages', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${user.apiKey}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          ...(request.idempotencyKey ? { 'idempotency-key': request.idempotencyKey } : {}),
        },
        body,
      }),
    );
    const answer = smtpAnswer(response.status, await response.json().catch(() => null));
    logger.info(
      {
        remote: session.remoteAddress,
        tenant: user.tenantId,
        key: user.keyId,
        status: response.status,
        reply: `${answer.code} ${answer.message}`,
        replayed: response.headers.get('idempotent-replayed') === 'true',
      },
      'SMTP submission',
    );
    return answer;
  }

  return new BoundedSMTPServer(
    {
      secure: opts.implicitTls,
      key: opts.tls.key,
      cert: opts.tls.cert,
      name: opts.hostname,
      banner: 'Postlane ESMTP submission',
      size: opts.maxMessageBytes,
      authMethods: ['PLAIN', 'LOGIN'],
      // smtp-server refuses AUTH before TLS (538) unless this is set; it stays unset.
      allowInsecureAuth: false,
      disabledCommands: opts.implicitTls ? ['STARTTLS'] : [],
      disableReverseLookup: true,
      logger: false,
      onAuth: (auth, session, callback) => void onAuth(auth, session, callback),
      onRcptTo(address, session, callback) {
        if (session.envelope.rcptTo.length >= MAX_RECIPIENTS_PER_MESSAGE) {
          return callback(smtpError(452, `4.5.3 too many recipients: at most ${MAX_RECIPIENTS_PER_MESSAGE} per message; send the rest in another transaction`));
        }
        // The API's address rule, per recipient here rather than for the whole message at DATA.
        const parsed = parseMailbox(address.address);
        if (!parsed.ok) return callback(smtpError(553, `5.1.3 <${address.address}>: ${parsed.reason}`));
        callback();
      },
      onData(stream, session, callback) {
        readData(stream, opts.maxMessageBytes)
          .then(async ({ raw, bareNewline }) => {
            if (bareNewline) {
              count('bare_newline');
              logger.warn({ remote: session.remoteAddress }, 'SMTP submission refused: bare CR or LF in DATA');
              return callback(smtpError(554, '5.6.0 message refused: bare CR or LF in DATA; lines must end with CRLF (RFC 5321 §2.3.8)'));
            }
            if (!raw) {
              count('too_large');
              return callback(smtpError(552, `5.3.4 message exceeds the size limit of ${opts.maxMessageBytes} bytes`));
            }
            const answer = await submit(raw, session);
            count(answer.code === 250 ? 'accepted' : answer.code >= 500 ? 'refused' : 'deferred');
            if (answer.code !== 250) return callback(smtpError(answer.code, answer.message));
            (callback as (err: Error | null, message: string) => void)(null, answer.message);
          })
          .catch((error: Error) => {
            count('deferred');
            logger.error({ err: error, remote: session.remoteAddress }, 'SMTP submission failed');
            callback(smtpError(451, '4.3.0 local error while taking the message; try again later'));
          });
      },
    },
    (remote) => {
      count('long_line');
      logger.warn({ remote }, 'SMTP: command line too long, connection closed');
    },
  );
}
