/** A message's status from its jobs' states: in flight while any job is, else the worst end. */
export function messageStatus(states: string[]): string {
  const s = new Set(states.filter(Boolean));
  if (s.size === 0) return 'queued';
  if (s.has('leased')) return 'sending';
  if (s.has('queued')) return s.size === 1 ? 'queued' : 'sending';
  if (s.size === 1) return [...s][0];
  // Canceled before any job left: the suppressed recipients were never going to be sent either.
  if (s.has('canceled') && [...s].every((state) => state === 'canceled' || state === 'suppressed')) return 'canceled';
  return 'partially_delivered';
}
