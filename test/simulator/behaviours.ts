/**
 * How each simulated provider escalates, as data: one record per provider, run by the pure
 * mechanism in reputation.ts. Times are real-world ones (what postmaster pages and shipped MTA
 * rule sets describe: throttles for minutes to hours, blocks for hours); `compressed()` scales a
 * record's clock for a run that must finish in a minute (the bench's shaped scenario).
 *
 * Reply texts are the providers' own (shared reference provider-replies.md, and the providers'
 * published wording): Gmail throttles with 421 4.7.28 and, ignored, blocks the IP with 550 5.7.1;
 * Microsoft throttles with 451 4.7.650 and bans the IP with 550 5.7.606; Yahoo defers with
 * [TSS04] and then permanently defers the IP with [TS03].
 */
import type { ReputationPolicy } from './reputation.ts';
import type { SimProviderName } from './provider-sim.ts';

/** A reply: code and text, `{ip}`, `{domain}` and `{rcpt}` filled in when sent. */
export type SimReply = [number, string];

export interface ProviderBehaviour {
  /** Everything but the rates, which each run sets (perIp / perDomain). */
  escalation: Omit<ReputationPolicy, 'perIp' | 'perDomain'>;
  replies: {
    /** The sender domain's rate over every IP is exceeded. */
    domainThrottle: SimReply;
    /** The IP is blocked after ignored throttles or complaints. */
    block: SimReply;
  };
  source: string;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

export const BEHAVIOURS: Record<SimProviderName, ProviderBehaviour> = {
  gmail: {
    escalation: {
      escalateAfter: 20,
      strikeWindowMs: 10 * MIN,
      holdMs: 15 * MIN,
      holdGrowth: 2,
      maxHoldMs: 2 * HOUR,
      holdExtendMs: 30_000,
      strikePenalty: 0.005,
      ignoredPenalty: 0.02,
      complaintPenalty: 0.05,
      recoverPerMin: 0.01,
      // Gmail does not tarpit: it answers fast and says no.
      tarpitBelow: 0,
      tarpitMs: 0,
      blockBelow: 0.3,
      blockMs: HOUR,
      afterBlock: 0.5,
    },
    replies: {
      domainThrottle: [421, '4.7.28 Gmail has detected an unusual rate of mail originating from your DKIM domain [{domain}]. To protect our users from spam, mail sent from your DKIM domain has been temporarily rate limited. Please visit https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk Email Senders Guidelines. gsmtp'],
      block: [550, '5.7.1 [{ip}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked. Please visit https://support.google.com/mail/?p=UnsolicitedIPError to review our Bulk Email Senders Guidelines. gsmtp'],
    },
    source: 'support.google.com/mail/?p=UnsolicitedRateLimitError and ?p=UnsolicitedIPError; smtp.codes/google (4.7.28)',
  },
  microsoft: {
    escalation: {
      escalateAfter: 10,
      strikeWindowMs: 10 * MIN,
      // KumoMTA's shaping rules: after 4.7.650, one message a minute for 90 minutes.
      holdMs: 90 * MIN,
      holdGrowth: 2,
      maxHoldMs: 6 * HOUR,
      holdExtendMs: MIN,
      strikePenalty: 0.01,
      ignoredPenalty: 0.03,
      complaintPenalty: 0.05,
      recoverPerMin: 0.005,
      // Exchange Online slows a sender it distrusts before it refuses it.
      tarpitBelow: 0.6,
      tarpitMs: 10_000,
      blockBelow: 0.3,
      blockMs: 24 * HOUR,
      afterBlock: 0.5,
    },
    replies: {
      domainThrottle: [451, '4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)'],
      block: [550, '5.7.606 Access denied, banned sending IP [{ip}]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)'],
    },
    source: 'postmaster.live.com; KumoMTA shaping.toml (4.7.650: 1 connection, 1 msg/min, 90 min); provider-replies.md (5.7.606 banned sending IP)',
  },
  yahoo: {
    escalation: {
      escalateAfter: 5,
      strikeWindowMs: 10 * MIN,
      // TSS04: suspend the IP for 2-4 hours.
      holdMs: 2 * HOUR,
      holdGrowth: 2,
      maxHoldMs: 8 * HOUR,
      holdExtendMs: 5 * MIN,
      strikePenalty: 0.02,
      ignoredPenalty: 0.05,
      complaintPenalty: 0.1,
      recoverPerMin: 0.005,
      tarpitBelow: 0.5,
      tarpitMs: 5_000,
      blockBelow: 0.3,
      blockMs: 24 * HOUR,
      afterBlock: 0.5,
    },
    replies: {
      domainThrottle: [421, '4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes'],
      block: [421, '4.7.1 [TS03] All messages from {ip} will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes'],
    },
    source: 'help.yahoo.com (postmaster error codes TSS04, TS03); KumoMTA shaping.toml',
  },
  other: {
    escalation: {
      escalateAfter: 30,
      strikeWindowMs: 10 * MIN,
      holdMs: 10 * MIN,
      holdGrowth: 2,
      maxHoldMs: HOUR,
      holdExtendMs: 30_000,
      strikePenalty: 0.005,
      ignoredPenalty: 0.02,
      complaintPenalty: 0.05,
      recoverPerMin: 0.01,
      tarpitBelow: 0.5,
      tarpitMs: 15_000,
      blockBelow: 0.2,
      blockMs: HOUR,
      afterBlock: 0.5,
    },
    replies: {
      domainThrottle: [421, '4.7.0 Too many messages from {domain}, rate limited, try again later'],
      block: [554, '5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org'],
    },
    source: 'Postfix postscreen/DNSBL wording for a small receiver',
  },
};

/**
 * The record with its clock run `factor` times faster: every duration divided by it, recovery
 * per minute multiplied by it, counts and thresholds unchanged.
 */
export function compressed(e: ProviderBehaviour['escalation'], factor: number): ProviderBehaviour['escalation'] {
  return {
    ...e,
    strikeWindowMs: e.strikeWindowMs / factor,
    holdMs: e.holdMs / factor,
    maxHoldMs: e.maxHoldMs / factor,
    holdExtendMs: e.holdExtendMs / factor,
    tarpitMs: e.tarpitMs / factor,
    blockMs: e.blockMs / factor,
    recoverPerMin: e.recoverPerMin * factor,
  };
}
