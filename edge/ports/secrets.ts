export interface Secrets {
  /** Encrypts a DKIM private key for storage. */
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
}
