/** What open/click tracking asks the store (edge/services/tracking.ts). */
export interface TrackingStore {
  /**
   * The addresses (lower-cased) among these that the tenant's mail in this lane was delivered to
   * before: an outreach recipient not among them is a first touch.
   */
  deliveredBefore(tenantId: string, lane: string, addresses: string[]): Promise<string[]>;
}
