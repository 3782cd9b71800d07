/**
 * VERP (variable envelope return path): the envelope sender of each delivery job names the job,
 * so a bounce (RFC 3464 DSN) sent to that address maps back to exactly one job.
 * Form: `bounces+<jobId>@<returnPathDomain>`.
 */
const LOCAL_PREFIX = 'bounces+';

export function verpAddress(jobId: string, returnPathDomain: string): string {
  return `${LOCAL_PREFIX}${jobId}@${returnPathDomain}`;
}

/** The job id a VERP address names, or null when the address is not one of ours. */
export function jobIdFromVerp(address: string): string | null {
  const at = address.lastIndexOf('@');
  const local = (at < 0 ? address : address.slice(0, at)).replace(/^<|>$/g, '');
  if (!local.toLowerCase().startsWith(LOCAL_PREFIX)) return null;
  const jobId = local.slice(LOCAL_PREFIX.length);
  return /^[A-Za-z0-9_-]{1,128}$/.test(jobId) ? jobId : null;
}
