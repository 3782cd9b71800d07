/** A message's status from its jobs' states: in flight while any job is, else the worst end. */
export function messageStatus(states: string[]): string {
  const s = new Set(states.filter(Boolean));
  if (s.size === 0) return 'queued';
  if (s.has('leased')) return 'sending';
  if (s.has('queued')) return s.size === 1 ? 'queued' : 'sending';
  if (s.size === 1) return [...s][0];
  return 'partially_delivered';
}
