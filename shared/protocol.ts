/**
 * The lease protocol between MTA nodes and the edge's lease hub, over one WebSocket
 * (`/v1/nodes/connect`). Defined once per direction; both ends parse every frame they
 * receive with these schemas and never trust an unparsed frame.
 *
 * Flow: node → hello; hub → welcome. Node → pull {credits}; hub → lease {jobs} (now or when
 * work arrives, never more jobs than credits outstanding). Node → heartbeat while it holds
 * leases, hub → extended {leases[{leaseId, leaseExpiresAt}]} with the ones it extended; node →
 * results; hub → ack {jobIds} once the results are committed (or refused) by the store.
 * A node that reconnects sends its journaled, unacknowledged results right after hello and
 * before its first pull, so a partition never turns into a second send.
 *
 * Every frame carries `v: 1`; a breaking change adds a version and a union on it.
 */
import * as v from 'valibot';

export const PROTOCOL_VERSION = 1 as const;
const version = v.literal(PROTOCOL_VERSION);

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const ipAddress = v.pipe(v.string(), v.ip());
const hostname = v.pipe(v.string(), v.minLength(1), v.maxLength(253), v.regex(/^[A-Za-z0-9.-]+$/));
const poolName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/));
const regionName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/));
const epochMs = v.pipe(v.number(), v.integer(), v.minValue(0));
const count = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));

export const SourceIpSchema = v.object({
  address: ipAddress,
  pool: poolName,
  ehlo: hostname,
});

/** The SMTP reply as received, split per RFC 5321 §4.2 (code) and RFC 3463 (enhanced code). */
export const SmtpReplySchema = v.object({
  code: v.pipe(v.number(), v.integer(), v.minValue(200), v.maxValue(599)),
  enhanced: v.nullable(v.pipe(v.string(), v.regex(/^[245]\.\d{1,3}\.\d{1,3}$/))),
  text: v.pipe(v.string(), v.maxLength(4096)),
});

export const DeliveryOutcome = v.picklist(['delivered', 'deferred', 'bounced']);

export const DeliveryResultSchema = v.object({
  jobId: id,
  leaseId: id,
  dedupKey: v.pipe(v.string(), v.maxLength(512)),
  outcome: DeliveryOutcome,
  /** The remote reply; null when no reply came (connection refused, timeout, DNS failure). */
  reply: v.nullable(SmtpReplySchema),
  /** Local failure description when there was no reply, or context beside the reply. */
  error: v.nullable(v.pipe(v.string(), v.maxLength(2048))),
  /** Which SMTP step produced the outcome: CONN, EHLO, STARTTLS, MAIL FROM, RCPT TO, DATA, DNS. */
  stage: v.nullable(v.pipe(v.string(), v.maxLength(32))),
  mx: v.nullable(v.pipe(v.string(), v.maxLength(300))),
  sourceIp: v.nullable(v.string()),
  tls: v.nullable(v.pipe(v.string(), v.maxLength(32))),
  startedAt: epochMs,
  finishedAt: epochMs,
  /** True when the node answered from its journal instead of sending again. */
  fromJournal: v.optional(v.boolean(), false),
});

export const NodeHelloSchema = v.object({
  type: v.literal('hello'),
  v: version,
  nodeId: id,
  region: regionName,
  version: v.pipe(v.string(), v.maxLength(64)),
  ips: v.pipe(v.array(SourceIpSchema), v.minLength(1), v.maxLength(1024)),
  capacity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000)),
});

export const NodePullSchema = v.object({
  type: v.literal('pull'),
  v: version,
  /** Additional jobs the node can take, on top of earlier pulls the hub has not filled yet. */
  credits: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)),
});

export const NodeHeartbeatSchema = v.object({
  type: v.literal('heartbeat'),
  v: version,
  leaseIds: v.pipe(v.array(id), v.maxLength(100_000)),
});

export const NodeResultsSchema = v.object({
  type: v.literal('results'),
  v: version,
  results: v.pipe(v.array(DeliveryResultSchema), v.minLength(1), v.maxLength(10_000)),
});

/** Longest a node may ask the hub to wait before leasing a given-back job again. */
export const MAX_RELEASE_DELAY_MS = 10 * 60_000;

/**
 * Leases the node gives back without having started them: their destination cannot take them
 * within the lease (a tarpit, every session busy). They return to the queue without counting
 * as an attempt, after `retryAfterMs`, so one slow destination does not hold the node's capacity.
 */
export const NodeReleaseSchema = v.object({
  type: v.literal('release'),
  v: version,
  leases: v.pipe(v.array(v.object({ jobId: id, leaseId: id })), v.minLength(1), v.maxLength(10_000)),
  reason: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  retryAfterMs: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_RELEASE_DELAY_MS)),
});

/** Everything a node may send to the hub. */
export const NodeToHubMessage = v.variant('type', [
  NodeHelloSchema,
  NodePullSchema,
  NodeHeartbeatSchema,
  NodeResultsSchema,
  NodeReleaseSchema,
]);

/**
 * Which signing key: the sending-domain record's (tenant, domain, selector), never the domain
 * name alone — two tenants may register the same name, each with its own key.
 */
export const dkimKeyId = v.pipe(v.string(), v.minLength(1), v.maxLength(512));

/** The key id of a sending-domain record (see dkimKeyId). */
export function dkimKeyIdOf(rec: { tenantId: string; domain: string; selector: string }): string {
  return `${rec.tenantId}:${rec.domain.toLowerCase()}:${rec.selector}`;
}

export const DkimKeySchema = v.object({
  keyId: dkimKeyId,
  domain: hostname,
  selector: v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,63}$/)),
  algorithm: v.picklist(['rsa-sha256', 'ed25519-sha256']),
  privateKeyPem: v.pipe(v.string(), v.startsWith('-----BEGIN')),
});

export const LeasedJobSchema = v.object({
  jobId: id,
  leaseId: id,
  dedupKey: v.pipe(v.string(), v.maxLength(512)),
  messageId: id,
  recipient: v.pipe(v.string(), v.maxLength(320)),
  domain: hostname,
  /** RFC 5321 MAIL FROM: a VERP address that maps a bounce back to this job. */
  envelopeFrom: v.pipe(v.string(), v.maxLength(320)),
  pool: poolName,
  /** The hub's pick of source IP within the pool; null lets the node choose among its pool's IPs. */
  sourceIp: v.nullable(v.string()),
  provider: v.pipe(v.string(), v.maxLength(64)),
  lane: v.pipe(v.string(), v.maxLength(32)),
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The sending domain whose key signs the message; null sends unsigned. */
  dkimDomain: v.nullable(hostname),
  /** The key (DkimKey.keyId) that must sign it: its tenant's record of dkimDomain; null with dkimDomain null. */
  dkimKeyId: v.nullable(dkimKeyId),
  /** Whether the recipient domain must be reached over TLS (MTA-STS enforce or policy). */
  requireTls: v.optional(v.boolean(), false),
  leaseExpiresAt: epochMs,
});

export const LeasedMessageSchema = v.object({
  messageId: id,
  /** The message as stored at accept: RFC 5322 text with CRLF line ends, not yet DKIM-signed. */
  raw: v.string(),
});

export const HubWelcomeSchema = v.object({
  type: v.literal('welcome'),
  v: version,
  sessionId: id,
  leaseTtlMs: count(86_400_000),
  heartbeatMs: count(3_600_000),
  /** The declared IPs the node's token allows; the node sends from these only. */
  acceptedIps: v.array(SourceIpSchema),
  /**
   * Connection shaping from the hub's provider table (`other` for unlisted domains): sessions per
   * (destination, source IP) and messages per session. A node's own per-provider settings win.
   */
  providerLimits: v.optional(
    v.record(
      v.pipe(v.string(), v.maxLength(64)),
      v.object({ maxConnections: v.pipe(count(10_000), v.minValue(1)), maxMessagesPerConnection: v.pipe(count(1_000_000), v.minValue(1)) }),
    ),
  ),
});

export const HubLeaseSchema = v.object({
  type: v.literal('lease'),
  v: version,
  jobs: v.pipe(v.array(LeasedJobSchema), v.maxLength(10_000)),
  /** Each message's body once, however many of its recipients are in this lease. */
  messages: v.array(LeasedMessageSchema),
  /** Signing keys the node has not been sent yet in this session. */
  keys: v.array(DkimKeySchema),
});

export const HubAckSchema = v.object({
  type: v.literal('ack'),
  v: version,
  jobIds: v.array(id),
});

export const HubErrorSchema = v.object({
  type: v.literal('error'),
  v: version,
  code: v.picklist(['bad_frame', 'unauthorized', 'ip_not_allowed', 'not_ready', 'internal', 'node_conflict']),
  message: v.string(),
  /** True when the hub closes the connection after this frame. */
  fatal: v.boolean(),
});

/**
 * The answer to a heartbeat: the leases the hub extended (those still held by this node) and
 * their new expiry. A node keeps sending a job only while its current expiry is ahead.
 */
export const HubExtendedSchema = v.object({
  type: v.literal('extended'),
  v: version,
  leases: v.pipe(v.array(v.object({ leaseId: id, leaseExpiresAt: epochMs })), v.maxLength(100_000)),
});

/** Everything the hub may send to a node. */
export const HubToNodeMessage = v.variant('type', [
  HubWelcomeSchema,
  HubLeaseSchema,
  HubAckSchema,
  HubErrorSchema,
  HubExtendedSchema,
]);

export type SourceIp = v.InferOutput<typeof SourceIpSchema>;
export type SmtpReply = v.InferOutput<typeof SmtpReplySchema>;
export type DeliveryResult = v.InferOutput<typeof DeliveryResultSchema>;
export type DeliveryResultInput = v.InferInput<typeof DeliveryResultSchema>;
export type NodeToHub = v.InferOutput<typeof NodeToHubMessage>;
export type HubToNode = v.InferOutput<typeof HubToNodeMessage>;
export type NodeHello = v.InferOutput<typeof NodeHelloSchema>;
export type LeasedJob = v.InferOutput<typeof LeasedJobSchema>;
export type LeasedMessage = v.InferOutput<typeof LeasedMessageSchema>;
export type DkimKey = v.InferOutput<typeof DkimKeySchema>;
export type HubLease = v.InferOutput<typeof HubLeaseSchema>;
export type HubExtended = v.InferOutput<typeof HubExtendedSchema>;

export type FrameParse<T> = { ok: true; frame: T } | { ok: false; error: string };

function parseWith<T>(schema: v.GenericSchema<unknown, T>, data: string): FrameParse<T> {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const result = v.safeParse(schema, json);
  if (result.success) return { ok: true, frame: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') || '(frame)';
  return { ok: false, error: `${path}: ${issue.message}` };
}

/** Parses a frame received by the hub. */
export const parseNodeFrame = (data: string) => parseWith(NodeToHubMessage, data);
/** Parses a frame received by a node. */
export const parseHubFrame = (data: string) => parseWith(HubToNodeMessage, data);

/** The one way to put a frame on the wire, so both ends serialise alike. */
export function encodeFrame(frame: NodeToHub | HubToNode): string {
  return JSON.stringify(frame);
}
