/**
 * The Node edge's SMTP listeners, each on when its port is set: submission with STARTTLS
 * (POSTLANE_SUBMISSION_PORT, 587), submission over implicit TLS (POSTLANE_SUBMISSION_TLS_PORT,
 * 465) and the bounce / feedback MX (POSTLANE_INTAKE_PORT, 25). They share one certificate and
 * one AUTH failure count per client address.
 */
import { hostname as osHostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { AppDeps } from '../../ports/app.ts';
import type { Logger } from '../../logger.ts';
import type { Settings } from '../../settings.ts';
import type { BoundedSMTPServer } from './guards.ts';
import { AuthFailures } from './guards.ts';
import { intakeServer } from './intake.ts';
import { submissionServer, type AppFetch } from './submission.ts';
import { loadTls } from './tls.ts';

export interface SmtpListeners {
  /** Bound ports (null: that listener is off). */
  submissionPort: number | null;
  submissionTlsPort: number | null;
  intakePort: number | null;
  /** The certificate presented (PEM): a test or a local client trusts the self-signed one with it. */
  cert: string | null;
  close(): Promise<void>;
}

function listen(server: BoundedSMTPServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const net = (server as unknown as { server: import('node:net').Server }).server;
    net.once('error', reject);
    server.listen(port, host, () => {
      net.off('error', reject);
      resolve((net.address() as AddressInfo).port);
    });
  });
}

export async function startSmtpListeners(settings: Settings, opts: { deps: AppDeps; fetch: AppFetch; logger: Logger }): Promise<SmtpListeners> {
  const submissionPort = settings.POSTLANE_SUBMISSION_PORT;
  const tlsPort = settings.POSTLANE_SUBMISSION_TLS_PORT;
  const intakePort = settings.POSTLANE_INTAKE_PORT;
  const none: SmtpListeners = { submissionPort: null, submissionTlsPort: null, intakePort: null, cert: null, close: async () => {} };
  if (submissionPort === undefined && tlsPort === undefined && intakePort === undefined) return none;

  const logger = opts.logger;
  const hostname = settings.POSTLANE_INTAKE_HOST ?? osHostname();
  const tls = await loadTls({ certPath: settings.POSTLANE_SMTP_TLS_CERT, keyPath: settings.POSTLANE_SMTP_TLS_KEY, hostname, logger });
  const host = settings.POSTLANE_SMTP_HOST;
  const maxMessageBytes = settings.POSTLANE_MAX_MESSAGE_BYTES;
  const authFailures = new AuthFailures();
  const servers: BoundedSMTPServer[] = [];
  const start = async (server: BoundedSMTPServer, port: number, what: string) => {
    servers.push(server);
    const bound = await listen(server, port, host);
    logger.info({ host, port: bound, tls: tls.selfSigned ? 'self-signed' : 'configured' }, `SMTP ${what} listening`);
    return bound;
  };
  const close = () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {});

  try {
    const submission = { deps: opts.deps, fetch: opts.fetch, tls, hostname, maxMessageBytes, authFailures, logger };
    return {
      submissionPort:
        submissionPort === undefined ? null : await start(submissionServer({ ...submission, implicitTls: false }), submissionPort, 'submission (STARTTLS)'),
      submissionTlsPort:
        tlsPort === undefined ? null : await start(submissionServer({ ...submission, implicitTls: true }), tlsPort, 'submission (implicit TLS)'),
      intakePort:
        intakePort === undefined
          ? null
          : await start(
              intakeServer({
                deps: opts.deps,
                tls,
                hostname,
                maxMessageBytes,
                fblAddresses: new Set(settings.POSTLANE_FBL_ADDRESSES.map((a) => a.toLowerCase())),
                logger,
              }),
              intakePort,
              'intake (bounces and feedback)',
            ),
      cert: tls.cert,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
