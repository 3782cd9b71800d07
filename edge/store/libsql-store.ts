/**
 * The Store port over libSQL with drizzle: one implementation for the embedded file, sqld and
 * Turso. The caller hands in the drizzle database (Node: `drizzle-orm/libsql/node`, Workers:
 * `drizzle-orm/libsql/web`). Multi-statement writes use `batch`, which libSQL runs as one
 * transaction in one round trip on every transport.
 *
 * Each concern lives in edge/store/libsql/; this class only composes them into the whole Store
 * the entries bind, so every call goes to exactly one part.
 */
import { sql } from 'drizzle-orm';
import type { MessageListQuery } from '../../shared/api.ts';
import type { SendingDomainRecord, WarmupRecord } from '../domain/records.ts';
import type {
  ClaimRequest,
  DomainCheckUpdate,
  FeedbackRecording,
  HeldBy,
  HeldJob,
  IdempotencyClaim,
  JobTransition,
  NewApiKey,
  NewMessage,
  NewMessageEvent,
  NewNodeToken,
  NewPolicyEvent,
  NewSuppression,
  NewTenant,
  NodeRegistration,
  ScheduleChange,
  Store,
  SuppressionQuery,
  WarmupFilter,
  WarmupStateUpdate,
} from '../ports/store.ts';
import type { PostlaneDb } from './libsql/db.ts';
import { LibsqlDomains } from './libsql/domains.ts';
import { LibsqlSchedule } from './libsql/schedule.ts';
import { LibsqlLeases } from './libsql/leases.ts';
import { LibsqlMessages } from './libsql/messages.ts';
import { LibsqlPolicy } from './libsql/policy.ts';
import { LibsqlSuppressions } from './libsql/suppressions.ts';
import { LibsqlTenants } from './libsql/tenants.ts';
import { LibsqlWarmups } from './libsql/warmups.ts';
import { LibsqlWebhooks } from './libsql/webhooks.ts';
import { LibsqlAudit } from './libsql/audit.ts';
import { LibsqlKeys } from './libsql/keys.ts';
import { LibsqlPools } from './libsql/pools.ts';
import { LibsqlConfig } from './libsql/config.ts';
import type { AuditQuery, ConfigApply, ConfigPlanRecord, NewAuditEntry, PoolInfo, SourceIpRecord, SourceIpStatus } from '../ports/store.ts';
import { LibsqlTemplates } from './libsql/templates.ts';
import { LibsqlTracking } from './libsql/tracking.ts';
import { LibsqlRollups } from './libsql/rollups.ts';
import { LibsqlAlerts } from './libsql/alerts.ts';
import type { AlertQuery, AlertRecord, AlertWebhookEvent, CountKey, NewAlert, RollupDimension, RollupFilter } from '../ports/stats.ts';
import type { TemplateContent, TemplateRecord } from '../ports/templates.ts';
import type { DeliveryOutcome, NewWebhookDelivery, WebhookDeliveryRecord, WebhookEndpointPatch, WebhookEndpointRecord } from '../ports/webhooks.ts';

import { LibsqlDeadLetters } from './libsql/dead-letters.ts';
import { LibsqlQuotas } from './libsql/quotas.ts';
import { LibsqlHolds } from './libsql/holds.ts';
import type { DeadLetterQuery, HoldDecision, HoldRecord, HoldStatus, QuotaUsageRow, ReplayDraft } from '../ports/operator.ts';

export type { PostlaneDb } from './libsql/db.ts';

export interface LibsqlStoreOptions {
  /**
   * Share one transaction among concurrent accepts, and one query among concurrent suppression
   * lookups (default on). Off on Workers: there a promise settled by another request's I/O is
   * not allowed to wake this request.
   */
  groupCommit?: boolean;
}

export class LibsqlStore implements Store {
  private readonly tenants: LibsqlTenants;
  private readonly deadLetters: LibsqlDeadLetters;
  private readonly quotas: LibsqlQuotas;
  private readonly holds: LibsqlHolds;
  private readonly messages: LibsqlMessages;
  private readonly leases: LibsqlLeases;
  private readonly policy: LibsqlPolicy;
  private readonly warmups: LibsqlWarmups;
  private readonly suppressions: LibsqlSuppressions;
  private readonly domains: LibsqlDomains;
  private readonly schedule: LibsqlSchedule;
  private readonly webhooks: LibsqlWebhooks;
  private readonly audit: LibsqlAudit;
  private readonly keys: LibsqlKeys;
  private readonly pools: LibsqlPools;
  private readonly config: LibsqlConfig;
  private readonly templates: LibsqlTemplates;
  private readonly tracking: LibsqlTracking;
  private readonly rollups: LibsqlRollups;
  private readonly alerts: LibsqlAlerts;

  constructor(
    readonly db: PostlaneDb,
    options: LibsqlStoreOptions = {},
  ) {
    const groupCommit = options.groupCommit ?? true;
    this.tenants = new LibsqlTenants(db);
    this.deadLetters = new LibsqlDeadLetters(db);
    this.quotas = new LibsqlQuotas(db);
    this.holds = new LibsqlHolds(db);
    this.messages = new LibsqlMessages(db, groupCommit);
    this.suppressions = new LibsqlSuppressions(db, groupCommit);
    this.leases = new LibsqlLeases(db, { appendEvents: (events) => this.messages.appendEvents(events), recordFeedback: (input) => this.suppressions.recordFeedback(input) });
    this.policy = new LibsqlPolicy(db);
    this.warmups = new LibsqlWarmups(db);
    this.domains = new LibsqlDomains(db);
    this.schedule = new LibsqlSchedule(db);
    this.webhooks = new LibsqlWebhooks(db);
    this.audit = new LibsqlAudit(db);
    this.keys = new LibsqlKeys(db);
    this.pools = new LibsqlPools(db);
    this.config = new LibsqlConfig(db);
    this.templates = new LibsqlTemplates(db);
    this.tracking = new LibsqlTracking(db);
    this.rollups = new LibsqlRollups(db);
    this.alerts = new LibsqlAlerts(db);
  }

  async ping() {
    await this.db.run(sql`SELECT 1`);
  }

  // DeadLetterStore
  listDeadJobs(tenantId: string, query: DeadLetterQuery) { return this.deadLetters.listDeadJobs(tenantId, query); }
  deadJobsByIds(tenantId: string, ids: string[]) { return this.deadLetters.deadJobsByIds(tenantId, ids); }
  messageRaw(tenantId: string, messageId: string) { return this.deadLetters.messageRaw(tenantId, messageId); }
  replayJobs(tenantId: string, drafts: ReplayDraft[]) { return this.deadLetters.replayJobs(tenantId, drafts); }

  // QuotaStore
  addQuotaUsage(rows: QuotaUsageRow[]) { return this.quotas.addQuotaUsage(rows); }
  quotaUsage(tenantId: string, since: number) { return this.quotas.quotaUsage(tenantId, since); }
  openHold(row: HoldRecord) { return this.holds.openHold(row); }
  activeHolds(tenantId: string, decidedSince: number) { return this.holds.activeHolds(tenantId, decidedSince); }
  listHolds(tenantId: string, query: { status?: HoldStatus; before?: string; limit: number }) { return this.holds.listHolds(tenantId, query); }
  getHold(tenantId: string, id: string) { return this.holds.getHold(tenantId, id); }
  heldJobCounts(list: HoldRecord[]) { return this.holds.heldJobCounts(list); }
  decideHold(decision: HoldDecision) { return this.holds.decideHold(decision); }

  // TenantStore
  findApiKey(keyHash: string) { return this.tenants.findApiKey(keyHash); }
  findApiKeyById(keyId: string) { return this.tenants.findApiKeyById(keyId); }
  createTenant(tenant: NewTenant, key: NewApiKey) { return this.tenants.createTenant(tenant, key); }
  findNodeToken(tokenHash: string) { return this.tenants.findNodeToken(tokenHash); }
  createNodeToken(input: NewNodeToken) { return this.tenants.createNodeToken(input); }

  // AuditStore
  appendAudit(entries: NewAuditEntry[]) { return this.audit.appendAudit(entries); }
  listAudit(query: AuditQuery) { return this.audit.listAudit(query); }

  // KeyStore
  createApiKey(tenantId: string, key: NewApiKey & { name: string | null; rotatedFrom?: string | null }, now: number) { return this.keys.createApiKey(tenantId, key, now); }
  listApiKeys(tenantId: string) { return this.keys.listApiKeys(tenantId); }
  getApiKey(tenantId: string, id: string) { return this.keys.getApiKey(tenantId, id); }
  revokeApiKey(tenantId: string, id: string, at: number) { return this.keys.revokeApiKey(tenantId, id, at); }
  rotateApiKey(tenantId: string, oldId: string, key: NewApiKey & { name: string | null }, oldRevokedAt: number, now: number) { return this.keys.rotateApiKey(tenantId, oldId, key, oldRevokedAt, now); }
  touchApiKey(id: string, at: number) { return this.keys.touchApiKey(id, at); }
  listNodeTokens() { return this.keys.listNodeTokens(); }
  getNodeToken(id: string) { return this.keys.getNodeToken(id); }
  revokeNodeToken(id: string, at: number) { return this.keys.revokeNodeToken(id, at); }
  rotateNodeToken(id: string, tokenHash: string, previousExpiresAt: number, now: number) { return this.keys.rotateNodeToken(id, tokenHash, previousExpiresAt, now); }

  // PoolStore
  listPools() { return this.pools.listPools(); }
  getPool(name: string) { return this.pools.getPool(name); }
  createPool(pool: PoolInfo) { return this.pools.createPool(pool); }
  updatePool(name: string, patch: { tenantId?: string | null; description?: string | null }) { return this.pools.updatePool(name, patch); }
  deletePool(name: string) { return this.pools.deletePool(name); }
  listSourceIps() { return this.pools.listSourceIps(); }
  getSourceIp(address: string) { return this.pools.getSourceIp(address); }
  upsertSourceIp(ip: SourceIpRecord) { return this.pools.upsertSourceIp(ip); }
  setSourceIpStatus(address: string, from: SourceIpStatus[], to: SourceIpStatus, now: number) { return this.pools.setSourceIpStatus(address, from, to, now); }
  leasesOnIp(address: string) { return this.pools.leasesOnIp(address); }

  // ConfigStore
  latestConfigVersion(tenantId: string) { return this.config.latestConfigVersion(tenantId); }
  listConfigVersions(tenantId: string, limit: number, beforeSeq?: number) { return this.config.listConfigVersions(tenantId, limit, beforeSeq); }
  getConfigVersion(tenantId: string, id: string) { return this.config.getConfigVersion(tenantId, id); }
  saveConfigPlan(plan: ConfigPlanRecord) { return this.config.saveConfigPlan(plan); }
  getConfigPlan(tenantId: string, id: string) { return this.config.getConfigPlan(tenantId, id); }
  applyConfig(apply: ConfigApply) { return this.config.applyConfig(apply); }

  // MessageStore
  acceptMessages(tenantId: string, items: NewMessage[], idem: IdempotencyClaim | null) { return this.messages.acceptMessages(tenantId, items, idem); }
  findIdempotent(tenantId: string, key: string) { return this.messages.findIdempotent(tenantId, key); }
  getMessage(tenantId: string, id: string) { return this.messages.getMessage(tenantId, id); }
  listMessages(tenantId: string, query: MessageListQuery) { return this.messages.listMessages(tenantId, query); }
  backlog(tenantId: string | null) { return this.messages.backlog(tenantId); }
  countJobsSince(tenantId: string, lane: string, since: number) { return this.messages.countJobsSince(tenantId, lane, since); }
  messageBodies(ids: string[]) { return this.messages.messageBodies(ids); }
  appendEvents(events: NewMessageEvent[]) { return this.messages.appendEvents(events); }
  jobEvents(messageId: string, jobId: string, types: string[]) { return this.messages.jobEvents(messageId, jobId, types); }
  findMessageJobs(messageId: string) { return this.messages.findMessageJobs(messageId); }
  changeSchedule(change: ScheduleChange) { return this.schedule.changeSchedule(change); }

  // LeaseStore
  upsertNode(node: NodeRegistration) { return this.leases.upsertNode(node); }
  knownPools() { return this.leases.knownPools(); }
  ensurePool(name: string, tenantId: string | null, now: number) { return this.leases.ensurePool(name, tenantId, now); }
  claimJobs(req: ClaimRequest) { return this.leases.claimJobs(req); }
  extendLeases(nodeId: string, leaseIds: string[], expiresAt: number) { return this.leases.extendLeases(nodeId, leaseIds, expiresAt); }
  releaseLeases(nodeId: string, leases: Array<{ jobId: string; leaseId: string }>, nextAttemptAt: number, reason: string, now: number) { return this.leases.releaseLeases(nodeId, leases, nextAttemptAt, reason, now); }
  jobsByIds(ids: string[]) { return this.leases.jobsByIds(ids); }
  applyTransitions(transitions: JobTransition[]) { return this.leases.applyTransitions(transitions); }
  requeueHeld(held: HeldJob[], now: number) { return this.leases.requeueHeld(held, now); }
  releaseHeld(held: HeldBy, now: number) { return this.leases.releaseHeld(held, now); }
  expireLeases(now: number) { return this.leases.expireLeases(now); }
  readyJobsOutside(regions: string[], now: number, limit: number) { return this.leases.readyJobsOutside(regions, now, limit); }

  // PolicyStore
  getTenantPolicy(tenantId: string) { return this.policy.getTenantPolicy(tenantId); }
  putTenantPolicy(tenantId: string, document: Record<string, unknown>, updatedBy: string, now: number) { return this.policy.putTenantPolicy(tenantId, document, updatedBy, now); }
  appendPolicyEvents(events: NewPolicyEvent[]) { return this.policy.appendPolicyEvents(events); }
  listPolicyEvents(since: number, limit: number) { return this.policy.listPolicyEvents(since, limit); }
  listPolicyEventsFor(scope: string, key: string, limit: number) { return this.policy.listPolicyEventsFor(scope, key, limit); }
  latestPolicyEvent(scope: string, keys: string[]) { return this.policy.latestPolicyEvent(scope, keys); }

  // WarmupStore
  createWarmup(row: WarmupRecord) { return this.warmups.createWarmup(row); }
  getWarmup(id: string) { return this.warmups.getWarmup(id); }
  listWarmups(filter?: WarmupFilter) { return this.warmups.listWarmups(filter); }
  saveWarmupStates(updates: WarmupStateUpdate[]) { return this.warmups.saveWarmupStates(updates); }
  endWarmup(id: string, status: 'stopped' | 'complete', now: number) { return this.warmups.endWarmup(id, status, now); }

  // SuppressionStore
  addSuppressions(rows: NewSuppression[]) { return this.suppressions.addSuppressions(rows); }
  findSuppressions(tenantId: string, addresses: string[]) { return this.suppressions.findSuppressions(tenantId, addresses); }
  listSuppressions(tenantId: string, query: SuppressionQuery) { return this.suppressions.listSuppressions(tenantId, query); }
  deleteSuppression(tenantId: string, address: string) { return this.suppressions.deleteSuppression(tenantId, address); }
  recordFeedback(input: FeedbackRecording) { return this.suppressions.recordFeedback(input); }

  // DomainStore
  createDomain(row: SendingDomainRecord) { return this.domains.createDomain(row); }
  deleteDomain(tenantId: string, id: string) { return this.domains.deleteDomain(tenantId, id); }
  listDomains(tenantId: string) { return this.domains.listDomains(tenantId); }
  findDomain(tenantId: string, domain: string) { return this.domains.findDomain(tenantId, domain); }
  getDomain(tenantId: string, id: string) { return this.domains.getDomain(tenantId, id); }
  verifiedOwner(domain: string) { return this.domains.verifiedOwner(domain); }
  saveDomainCheck(update: DomainCheckUpdate) { return this.domains.saveDomainCheck(update); }
  domainsDue(checkedBefore: number, limit: number) { return this.domains.domainsDue(checkedBefore, limit); }
  ensureVerifyToken(id: string, token: string) { return this.domains.ensureVerifyToken(id, token); }
  signingKeys(domains: Array<{ tenantId: string; domain: string }>) { return this.domains.signingKeys(domains); }

  // TrackingStore
  deliveredBefore(tenantId: string, lane: string, addresses: string[]) { return this.tracking.deliveredBefore(tenantId, lane, addresses); }

  // TemplateStore
  createTemplate(row: TemplateRecord, content: TemplateContent) { return this.templates.createTemplate(row, content); }
  listTemplates(tenantId: string) { return this.templates.listTemplates(tenantId); }
  getTemplate(tenantId: string, id: string) { return this.templates.getTemplate(tenantId, id); }
  getTemplateVersion(tenantId: string, id: string, version: number | null) { return this.templates.getTemplateVersion(tenantId, id, version); }
  listTemplateVersions(tenantId: string, id: string) { return this.templates.listTemplateVersions(tenantId, id); }
  addTemplateVersion(tenantId: string, id: string, content: TemplateContent, name: string | null, now: number) { return this.templates.addTemplateVersion(tenantId, id, content, name, now); }
  deleteTemplate(tenantId: string, id: string) { return this.templates.deleteTemplate(tenantId, id); }

  // WebhookStore
  createWebhookEndpoint(row: Omit<WebhookEndpointRecord, 'startEventId'>) { return this.webhooks.createWebhookEndpoint(row); }
  listWebhookEndpoints(tenantId: string) { return this.webhooks.listWebhookEndpoints(tenantId); }
  getWebhookEndpoint(tenantId: string, id: string) { return this.webhooks.getWebhookEndpoint(tenantId, id); }
  updateWebhookEndpoint(tenantId: string, id: string, patch: WebhookEndpointPatch, now: number) { return this.webhooks.updateWebhookEndpoint(tenantId, id, patch, now); }
  deleteWebhookEndpoint(tenantId: string, id: string) { return this.webhooks.deleteWebhookEndpoint(tenantId, id); }
  rotateWebhookSecret(tenantId: string, id: string, secretEnc: string, previousExpiresAt: number, now: number) { return this.webhooks.rotateWebhookSecret(tenantId, id, secretEnc, previousExpiresAt, now); }
  activeWebhookEndpoints() { return this.webhooks.activeWebhookEndpoints(); }
  readOutbox(limit: number) { return this.webhooks.readOutbox(limit); }
  fanOut(from: number, to: number, deliveries: NewWebhookDelivery[], now: number) { return this.webhooks.fanOut(from, to, deliveries, now); }
  dueWebhookDeliveries(endpointId: string, now: number, limit: number) { return this.webhooks.dueWebhookDeliveries(endpointId, now, limit); }
  recordWebhookAttempt(delivery: WebhookDeliveryRecord, outcome: DeliveryOutcome) { return this.webhooks.recordWebhookAttempt(delivery, outcome); }
  disableWebhookEndpoint(id: string, reason: string, now: number) { return this.webhooks.disableWebhookEndpoint(id, reason, now); }
  listDeadLetters(tenantId: string, endpointId: string, limit: number, before?: number) { return this.webhooks.listDeadLetters(tenantId, endpointId, limit, before); }
  replayDeadLetters(tenantId: string, endpointId: string, which: { id: string } | { since: number }, now: number) { return this.webhooks.replayDeadLetters(tenantId, endpointId, which, now); }
  webhookDeliveries(endpointId: string, limit: number) { return this.webhooks.webhookDeliveries(endpointId, limit); }
  // StatsStore
  rollupCounts(filter: RollupFilter, by: ReadonlyArray<RollupDimension | CountKey>, bucketMs: number | null) { return this.rollups.rollupCounts(filter, by, bucketMs); }
  rollupLatencies(filter: RollupFilter, by: readonly RollupDimension[], bucketMs: number | null) { return this.rollups.rollupLatencies(filter, by, bucketMs); }
  exportEvents(tenantId: string | null, from: number, to: number, afterId: number, limit: number) { return this.rollups.exportEvents(tenantId, from, to, afterId, limit); }
  exportRollups(tenantId: string | null, from: number, to: number, afterRowid: number, limit: number) { return this.rollups.exportRollups(tenantId, from, to, afterRowid, limit); }
  deliveryTotals() { return this.rollups.deliveryTotals(); }

  // AlertStore
  alertRuleSettings() { return this.alerts.alertRuleSettings(); }
  putAlertRuleSettings(id: string, settings: Record<string, unknown>, now: number) { return this.alerts.putAlertRuleSettings(id, settings, now); }
  openAlerts() { return this.alerts.openAlerts(); }
  listAlerts(query: AlertQuery) { return this.alerts.listAlerts(query); }
  raiseAlert(alert: NewAlert, event: Omit<AlertWebhookEvent, 'data'>, data: (a: AlertRecord) => Record<string, unknown>) { return this.alerts.raiseAlert(alert, event, data); }
  resolveAlert(id: number, numbers: Record<string, unknown>, now: number, event: Omit<AlertWebhookEvent, 'data'>, data: (a: AlertRecord) => Record<string, unknown>) { return this.alerts.resolveAlert(id, numbers, now, event, data); }
  failingWebhookEndpoints(minFailures: number) { return this.alerts.failingWebhookEndpoints(minFailures); }
}
