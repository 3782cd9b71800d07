/**
 * The simulator's fixed replies per provider (throttle, random deferral, unknown user, the block
 * switch, connection cap), the providers' own codes and wording (shared reference
 * provider-replies.md), and its seeded random source. The escalation replies are the
 * providers' records in behaviours.ts.
 */
import type { SimProviderName } from './provider-sim.ts';

export type ReplyKind = 'throttle' | 'defer' | 'unknown' | 'block' | 'connections';

/** The provider's own words. Codes and fragments from provider-replies.md. */
export const REPLIES: Record<SimProviderName, Record<ReplyKind, [number, string]>> = {
  gmail: {
    throttle: [421, '4.7.28 [{ip}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. Please visit https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk Email Senders Guidelines. gsmtp'],
    defer: [450, '4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point. gsmtp'],
    unknown: [550, "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. gsmtp"],
    block: [421, '4.7.0 This message is suspected due to the very low reputation of the sending domain. To best protect our users from spam, the message has been blocked. gsmtp'],
    connections: [421, '4.7.0 Try again later, closing connection. gsmtp'],
  },
  microsoft: {
    throttle: [451, '4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)'],
    defer: [451, '4.3.2 Temporary server error. Please try again later ATTR2'],
    unknown: [550, '5.1.1 RESOLVER.ADR.RecipNotFound; not found'],
    block: [550, "5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors."],
    connections: [421, '4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel'],
  },
  yahoo: {
    throttle: [421, '4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes'],
    defer: [451, '4.3.0 Message temporarily deferred'],
    unknown: [554, "delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0] - mta1001.mail.gq1.yahoo.com"],
    block: [553, '5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus\'s list; see https://postmaster.yahooinc.com/error-codes'],
    connections: [421, '4.7.0 [TSS04] Messages from {ip} temporarily deferred due to too many connections'],
  },
  other: {
    throttle: [421, '4.7.0 Too many messages from {ip}, rate limited, try again later'],
    defer: [451, '4.3.0 Temporary local problem, please try again later'],
    unknown: [550, '5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table'],
    block: [554, '5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org'],
    connections: [421, '4.7.0 Too many concurrent SMTP connections from this IP address; please try again later'],
  },
};

/** mulberry32: a small seeded PRNG, so random deferrals repeat run to run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function smtpError(code: number, text: string): Error {
  const err = new Error(text) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}

