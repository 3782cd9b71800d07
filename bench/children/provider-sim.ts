/**
 * Bench child: the provider simulator of the tests (test/simulator/provider-sim.ts) in its own
 * process, so its SMTP servers neither share an event loop with the platform they judge nor
 * outlive the bench (this child exits when the parent goes away). Configured by BENCH_SIM (JSON).
 * IPC: sends {type:'ready', routes}; answers {type:'progress'} with how many recipients have a
 * final answer, and {type:'events'} with every recorded transaction and every block imposed.
 */
import { startProviderSim, type SimProviderConfig, type SimProviderName } from '../../test/simulator/provider-sim.ts';
import type { BlockPeriod } from '../../test/simulator/reputation.ts';
import { fail, onShutdown, send } from './ipc.ts';

export interface SimChildConfig {
  providers: Partial<Record<SimProviderName, Partial<SimProviderConfig>>>;
  seed: number;
}

/** One block a provider imposed on a source IP. */
export type SimBlock = BlockPeriod & { provider: SimProviderName };

/** One transaction as the parent reads it: [provider, kind, at (epoch ms), recipient]. */
export type SimRow = [SimProviderName, string, number, string | null];

const cfg = JSON.parse(process.env.BENCH_SIM ?? 'null') as SimChildConfig | null;
if (!cfg) fail(new Error('BENCH_SIM is not set'));

try {
  const sim = await startProviderSim(cfg.providers, { seed: cfg.seed });
  onShutdown(() => sim.stop());
  // Recipients whose outcome is final at the provider (accepted or unknown user), counted as
  // events arrive so the parent can poll for completion cheaply.
  const final = new Set<string>();
  const seen = new Map<string, number>();
  const progress = () => {
    for (const p of Object.values(sim.providers)) {
      for (let i = seen.get(p.name) ?? 0; i < p.events.length; i++) {
        const e = p.events[i];
        if ((e.kind === 'accepted' || e.kind === 'unknown_user') && e.rcpt) final.add(e.rcpt);
      }
      seen.set(p.name, p.events.length);
    }
    return final.size;
  };
  process.on('message', (m: any) => {
    if (m?.type === 'progress') return send({ type: 'progress', final: progress() });
    if (m?.type !== 'events') return;
    const rows: SimRow[] = [];
    for (const p of Object.values(sim.providers)) for (const e of p.events) rows.push([p.name, e.kind, e.at, e.rcpt]);
    const peak = Object.fromEntries(Object.values(sim.providers).map((p) => [p.name, p.peakConnections]));
    // The blocks each provider imposed (config.reputation): who, from when, until when, why.
    const blocks: SimBlock[] = Object.values(sim.providers).flatMap((p) => (p.book?.blocks ?? []).map((b) => ({ provider: p.name, ...b })));
    send({ type: 'events', rows, peak, blocks });
  });
  send({ type: 'ready', routes: sim.routes });
} catch (err) {
  fail(err);
}
