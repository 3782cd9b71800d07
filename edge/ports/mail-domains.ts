/**
 * Whether a recipient domain can receive mail at all: an MX set, or its own address as the
 * implicit MX (RFC 5321 §5.1). false for NXDOMAIN, a null MX (RFC 7505) or no address; null when
 * DNS could not say in time — a lookup failure is never a reason to refuse mail.
 */
export interface MailDomains {
  acceptsMail(domain: string): Promise<boolean | null>;
  /**
   * The domain's MX hosts, most preferred first (cached with the same answers): how accept
   * recognises a custom domain hosted by a provider (Google Workspace, Microsoft 365) by the
   * provider record's `mxSuffixes`. `[]` when it has none (implicit MX, null MX, NXDOMAIN); null
   * when DNS could not say in time, and the recipient is then shaped by its domain alone.
   */
  mxHosts?(domain: string): Promise<string[] | null>;
}
