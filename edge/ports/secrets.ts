export interface Secrets {
  /** Encrypts a DKIM private key for storage. */
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
  /**
   * An HMAC-SHA256 key for one purpose (`unsubscribe`, `tracking`), derived from the master key
   * (HKDF), so signed links need no key of their own and one purpose's MAC never verifies as another's.
   */
  hmacKey(purpose: string): Promise<CryptoKey>;
}
