/**
 * Was the machine loaded while the bench ran? Every phase is bracketed by a sample of the
 * 1-minute load average and of the CPU time the whole machine and the bench's own process tree
 * used (Linux /proc; elsewhere only the load average). What the machine spent beyond the bench
 * is other processes' work: on a shared machine every figure of the run is depressed by it, and
 * the ratios less than the absolute rates, since a baseline of the same run pays it too.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

interface Sample {
  at: number;
  load1: number;
  /** Busy CPU seconds of the whole machine since boot (all cores). */
  machineBusy: number | null;
  /** CPU seconds of this process and its waited-for children. */
  benchCpu: number | null;
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux

function machineBusy(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
    return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / TICKS_PER_SEC;
  } catch {
    return null;
  }
}

function benchCpu(): number | null {
  try {
    // Fields after the ")" of comm: utime stime cutime cstime are 14-17 of stat(5), i.e. 11-14 here.
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);
    return (f[11] + f[12] + f[13] + f[14]) / TICKS_PER_SEC;
  } catch {
    return null;
  }
}

const sample = (): Sample => ({ at: Date.now(), load1: loadavg()[0], machineBusy: machineBusy(), benchCpu: benchCpu() });

export interface PhaseLoad {
  phase: string;
  loadStart: number;
  loadEnd: number;
  /** Cores' worth of CPU that processes outside the bench's tree used during the phase; null: unknown. */
  otherCores: number | null;
}

const phases: PhaseLoad[] = [];

/** Runs one phase between two samples. */
export async function withLoadSample<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const a = sample();
  try {
    return await fn();
  } finally {
    const b = sample();
    const secs = (b.at - a.at) / 1000;
    const other =
      a.machineBusy !== null && b.machineBusy !== null && a.benchCpu !== null && b.benchCpu !== null && secs > 0
        ? Math.max(0, b.machineBusy - a.machineBusy - (b.benchCpu - a.benchCpu)) / secs
        : null;
    phases.push({ phase, loadStart: a.load1, loadEnd: b.load1, otherCores: other });
  }
}

/**
 * One line per run: loaded or not, and why. "Other" counts the CPU of processes the bench did
 * not wait for — other users of the machine, and, in the Postfix phase, Postfix's own daemons
 * (they detach from the bench), so that phase's figure is an upper bound.
 */
export function loadSummary(): string {
  const cores = availableParallelism();
  if (phases.length === 0) return `machine load: not sampled (${cores} cores, 1-min load average now ${loadavg()[0].toFixed(1)})`;
  const known = phases.filter((p) => p.otherCores !== null && p.phase !== 'postfix');
  const worst = known.reduce<PhaseLoad | null>((w, p) => (w === null || p.otherCores! > w.otherCores! ? p : w), null);
  const loads = phases.flatMap((p) => [p.loadStart, p.loadEnd]);
  const maxLoad = Math.max(...loads);
  // Loaded: other processes took a quarter of a core or more in some phase, or (without /proc)
  // the load average stood above the core count.
  const loaded = worst ? worst.otherCores! >= 0.25 : maxLoad > cores;
  const per = phases.map((p) => `${p.phase} ${p.otherCores === null ? '?' : p.otherCores.toFixed(2)}`).join(', ');
  return `machine load: ${loaded ? 'LOADED' : 'quiet'} — 1-min load average ${Math.min(...loads).toFixed(1)}–${maxLoad.toFixed(1)} on ${cores} cores; CPU used by processes outside the bench, in cores, per phase: ${per}${loaded ? ' — other work competed for the cores, so every figure of this run is depressed (ratios less than rates)' : ''}`;
}

export function loadJson(): PhaseLoad[] {
  return phases;
}
