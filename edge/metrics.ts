/**
 * The metrics port. Names and help texts are declared once here; the Node entry binds them to
 * prom-client, the Worker to an in-isolate registry with the same text exposition.
 */
export const METRICS = {
  postlane_api_requests_total: { type: 'counter', help: 'API requests by route and status', labels: ['route', 'status'] },
  postlane_messages_accepted_total: { type: 'counter', help: 'Messages accepted (202) by lane', labels: ['lane'] },
  postlane_messages_canceled_total: { type: 'counter', help: 'Messages canceled by their sender before any job was leased, by lane', labels: ['lane'] },
  postlane_api_rejections_total: { type: 'counter', help: 'Requests refused by error code', labels: ['code'] },
  postlane_leases_granted_total: { type: 'counter', help: 'Delivery jobs leased to nodes', labels: ['region'] },
  postlane_leases_expired_total: { type: 'counter', help: 'Leases that expired unreported and were re-queued', labels: [] },
  postlane_delivery_results_total: { type: 'counter', help: 'Delivery results reported by nodes', labels: ['outcome'] },
  postlane_hub_bad_frames_total: { type: 'counter', help: 'Protocol frames that failed validation', labels: [] },
  postlane_hub_results_refused_total: { type: 'counter', help: 'Delivery results refused: not for a live lease of the reporting node', labels: ['reason'] },
  postlane_hub_sessions_refused_total: { type: 'counter', help: 'Hellos refused or sessions replaced because their node id was in use', labels: ['reason'] },
  postlane_hub_leases_released_total: { type: 'counter', help: 'Leases nodes gave back unstarted (their destination could not take them in time)', labels: [] },
  postlane_accept_duration_seconds: { type: 'histogram', help: 'Time to accept a send request', labels: ['route'] },
  postlane_holds_opened_total: { type: 'counter', help: 'Rogue batches held for approval (SPEC §7 quota guards), by scope: tenant or sending domain', labels: ['scope'] },
  postlane_dead_letters_replayed_total: { type: 'counter', help: 'Dead-lettered jobs replayed as new delivery jobs', labels: [] },
  postlane_recipients_suppressed_total: { type: 'counter', help: 'Recipients not queued at accept because they are on the suppression list', labels: ['reason'] },
  postlane_feedback_reports_total: { type: 'counter', help: 'Reports taken at /v1/inbound by kind and whether they matched a job', labels: ['kind', 'matched'] },
  postlane_unsubscribes_total: { type: 'counter', help: 'One-click unsubscribes taken (RFC 8058), by lane and method', labels: ['lane', 'method'] },
  postlane_tracking_events_total: { type: 'counter', help: 'Opens and clicks recorded from tracking links', labels: ['type'] },
  postlane_smtp_messages_total: { type: 'counter', help: 'Messages ended by DATA on the SMTP listeners, by listener and result', labels: ['listener', 'result'] },
  postlane_smtp_auth_failures_total: { type: 'counter', help: 'SMTP AUTH attempts refused, by reason', labels: ['reason'] },
  postlane_feedback_signals_total: { type: 'counter', help: 'Complaint and late-bounce signals fed to the breakers', labels: ['kind'] },
} as const;

export type MetricName = keyof typeof METRICS;

export interface Metrics {
  inc(name: MetricName, labels?: Record<string, string>, value?: number): void;
  observe(name: MetricName, labels: Record<string, string>, value: number): void;
  /** Prometheus text exposition format. */
  render(): Promise<string>;
  contentType: string;
}

/** A dependency-free registry for runtimes without prom-client (Workers): counters and sums. */
export function memoryMetrics(): Metrics {
  const values = new Map<string, number>();
  const key = (name: string, labels: Record<string, string> = {}) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
    return l ? `${name}{${l}}` : name;
  };
  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    inc(name, labels, value = 1) {
      const k = key(name, labels);
      values.set(k, (values.get(k) ?? 0) + value);
    },
    observe(name, labels, value) {
      const k = key(`${name}_sum`, labels);
      values.set(k, (values.get(k) ?? 0) + value);
      const c = key(`${name}_count`, labels);
      values.set(c, (values.get(c) ?? 0) + 1);
    },
    async render() {
      const lines: string[] = [];
      for (const [name, def] of Object.entries(METRICS)) {
        lines.push(`# HELP ${name} ${def.help}`, `# TYPE ${name} ${def.type === 'histogram' ? 'summary' : def.type}`);
        for (const [k, v] of values) if (k.startsWith(name)) lines.push(`${k} ${v}`);
      }
      return lines.join('\n') + '\n';
    },
  };
}
