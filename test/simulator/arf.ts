/**
 * The provider simulator's complaint reports: ARF (RFC 5965) as each provider's feedback loop
 * builds it. provider-sim.ts POSTs them to the platform and re-exports buildArfReport.
 */
import type { SimProviderName } from './provider-sim.ts';

/** Who reports, by provider: the User-Agent and reporting host their feedback loops use. */
const FBL: Record<SimProviderName, { from: string; userAgent: string; mta: string }> = {
  // Gmail's feedback loop is aggregate, not per message; a per-message report is simulated alike.
  gmail: { from: 'fbl-noreply@google.com', userAgent: 'Gmail-FBL/1.0', mta: 'mx.google.com' },
  microsoft: { from: 'staff@hotmail.com', userAgent: 'Microsoft JMRP', mta: 'jmrp.outlook.com' },
  yahoo: { from: 'feedback@arf.mail.yahoo.com', userAgent: 'Yahoo!-Mail-Feedback/2.0', mta: 'mta1001.mail.gq1.yahoo.com' },
  other: { from: 'abuse@other.test', userAgent: 'SimFBL/1.0', mta: 'mx.other.test' },
};

/**
 * An ARF report (RFC 5965 §2-3): multipart/report with a human-readable part, the
 * message/feedback-report fields (Feedback-Type abuse, User-Agent, Version 1, Original-Mail-From,
 * Original-Rcpt-To, Arrival-Date, Source-IP, Reported-Domain) and the whole original as
 * message/rfc822, with the Return-Path and Received the receiving MTA added at final delivery
 * (RFC 5321 §4.4).
 */
export function buildArfReport(input: { provider: SimProviderName; ip: string; mailFrom: string; rcpt: string; original: string; at: Date }): string {
  const fbl = FBL[input.provider];
  const boundary = `----=_ARF_${input.at.getTime()}_${Math.random().toString(36).slice(2, 10)}`;
  const date = input.at.toUTCString().replace('GMT', '+0000');
  const fromDomain = /^From:.*@([^>\s]+)/im.exec(input.original)?.[1] ?? '';
  const original = `Return-Path: <${input.mailFrom}>\r\nReceived: from mta.test ([${input.ip}]) by ${fbl.mta} with ESMTP; ${date}\r\n${input.original.replace(/\r?\n/g, '\r\n')}`;
  return [
    `From: ${fbl.from}`,
    'To: fbl@postlane.test',
    `Subject: FW: Abuse report for ${input.ip}`,
    `Date: ${date}`,
    `Message-ID: <arf.${input.at.getTime()}.${Math.random().toString(36).slice(2)}@${fbl.mta}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is an email abuse report for an email message received from IP ${input.ip} on ${date}.`,
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    `User-Agent: ${fbl.userAgent}`,
    'Version: 1',
    `Original-Mail-From: <${input.mailFrom}>`,
    `Original-Rcpt-To: <${input.rcpt}>`,
    `Arrival-Date: ${date}`,
    `Reporting-MTA: dns; ${fbl.mta}`,
    `Source-IP: ${input.ip}`,
    ...(fromDomain ? [`Reported-Domain: ${fromDomain}`] : []),
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    original,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
