/**
 * The DKIM signing keys leases carry. A key is sent once per connection (the node keeps it), and
 * opened keys are cached for a few minutes so a busy hub does not read and decrypt the same key
 * for every lease; a rotated key reaches nodes within that time.
 */
import { dkimKeyIdOf, type DkimKey } from '../../shared/protocol.ts';
import type { Secrets } from '../ports/secrets.ts';
import type { Store } from '../ports/store.ts';

const KEY_CACHE_MS = 5 * 60_000;

export class DkimKeys {
  private readonly cache = new Map<string, { key: DkimKey; at: number }>();

  constructor(
    private readonly store: Pick<Store, 'signingKeys'>,
    private readonly secrets: Secrets,
    private readonly now: () => number,
  ) {}

  /**
   * The keys of `wanted` not yet sent on this connection; marks them sent. Keys are identified by
   * key id (the sending-domain record's tenant, domain and selector), never by domain name: two
   * tenants may register the same name, each with its own key.
   */
  async keysFor(keysSent: Set<string>, wanted: Array<{ tenantId: string; domain: string | null; keyId: string | null }>): Promise<DkimKey[]> {
    const missing = new Map<string, { tenantId: string; domain: string }>();
    for (const w of wanted) if (w.domain && w.keyId && !keysSent.has(w.keyId)) missing.set(w.keyId, { tenantId: w.tenantId, domain: w.domain });
    if (missing.size === 0) return [];
    const out: DkimKey[] = [];
    const now = this.now();
    const toLoad = [...missing.entries()].filter(([k]) => {
      const cached = this.cache.get(k);
      if (cached && now - cached.at < KEY_CACHE_MS) {
        out.push(cached.key);
        return false;
      }
      return true;
    });
    if (toLoad.length) {
      for (const rec of await this.store.signingKeys(toLoad.map(([, v]) => v))) {
        const keyId = dkimKeyIdOf(rec);
        const key: DkimKey = { keyId, domain: rec.domain, selector: rec.selector, algorithm: rec.algorithm, privateKeyPem: await this.secrets.open(rec.privateKeyEnc) };
        this.cache.set(keyId, { key, at: now });
        out.push(key);
      }
    }
    for (const k of out) keysSent.add(k.keyId);
    return out;
  }
}
