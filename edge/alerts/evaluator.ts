/**
 * Runs the alert evaluation on a timer. A round that is still running when the next is due is
 * not overlapped; a failing round is logged and the next one tries again.
 */
import type { Logger } from '../logger.ts';
import type { AlertService } from '../services/alerts.ts';

export class AlertEvaluator {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly service: AlertService,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.service
      .evaluate(this.now())
      .then(() => undefined)
      .catch((err) => this.logger.warn({ err }, 'alert evaluation failed; the next round tries again'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
