/**
 * The node-token check, for both runtimes' WebSocket upgrade: the bearer token's hash is looked
 * up in the store before anything reaches a hub. A store that cannot answer is not a bad token:
 * the node is told to come back (503 + Retry-After), and reconnects with its backoff.
 */
import type { NodeTokenRecord, Store } from '../ports/store.ts';
import { unavailableReason } from '../store/guarded.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { STORE_RETRY_AFTER_SECONDS } from '../middleware/errors.ts';

export type NodeAuth = NodeTokenRecord | 'unauthorized' | 'unavailable';

/** Seconds a node is asked to wait when the store is away. */
export const NODE_AUTH_RETRY_AFTER_SECONDS = STORE_RETRY_AFTER_SECONDS;

/**
 * `Authorization: Bearer <node token>` → the token's record, 'unauthorized' (no, malformed or
 * unknown token), or 'unavailable' (the store could not answer). Any other store error is a bug
 * and is thrown.
 */
export async function authenticateNode(store: Pick<Store, 'findNodeToken'>, authorization: string | null | undefined): Promise<NodeAuth> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) return 'unauthorized';
  try {
    return (await store.findNodeToken(await sha256Hex(match[1]))) ?? 'unauthorized';
  } catch (error) {
    if (unavailableReason(error) !== null) return 'unavailable';
    throw error;
  }
}
