/**
 * Compile-time only: the drizzle rows and the domain records (edge/domain/records.ts) must stay
 * assignable both ways, so the store can hand its rows out as records and take records as rows
 * with no mapping. A column added, dropped, renamed or retyped on one side fails the typecheck
 * on the line of the table that drifted.
 */
import type {
  DeliveryJobRecord,
  MessageEventRecord,
  MessageRecord,
  PolicyEventRecord,
  SendingDomainRecord,
  SuppressionRecord,
  WarmupRecord,
} from '../domain/records.ts';
import type { DeliveryJobRow, MessageEventRow, MessageRow, PolicyEventRow, SendingDomainRow, SuppressionRow, WarmupRow } from './schema.ts';

type Assignable<From extends To, To> = [From, To];

export type RecordsMatchSchema = [
  Assignable<MessageRow, MessageRecord>,
  Assignable<MessageRecord, MessageRow>,
  Assignable<DeliveryJobRow, DeliveryJobRecord>,
  Assignable<DeliveryJobRecord, DeliveryJobRow>,
  Assignable<MessageEventRow, MessageEventRecord>,
  Assignable<MessageEventRecord, MessageEventRow>,
  Assignable<PolicyEventRow, PolicyEventRecord>,
  Assignable<PolicyEventRecord, PolicyEventRow>,
  Assignable<SendingDomainRow, SendingDomainRecord>,
  Assignable<SendingDomainRecord, SendingDomainRow>,
  Assignable<SuppressionRow, SuppressionRecord>,
  Assignable<SuppressionRecord, SuppressionRow>,
  Assignable<WarmupRow, WarmupRecord>,
  Assignable<WarmupRecord, WarmupRow>,
];
