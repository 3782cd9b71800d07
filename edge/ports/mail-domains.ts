/**
 * Whether a recipient domain can receive mail at all: an MX set, or its own address as the
 * implicit MX (RFC 5321 §5.1). false for NXDOMAIN, a null MX (RFC 7505) or no address; null when
 * DNS could not say in time — a lookup failure is never a reason to refuse mail.
 */
export interface MailDomains {
  acceptsMail(domain: string): Promise<boolean | null>;
}
