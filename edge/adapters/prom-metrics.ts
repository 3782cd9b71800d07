/** The metrics port on prom-client (Node): default process metrics plus Postlane's own. */
import client from 'prom-client';
import { METRICS, type Metrics, type MetricName } from '../metrics.ts';

export function promMetrics(registry = new client.Registry()): Metrics & { registry: client.Registry } {
  client.collectDefaultMetrics({ register: registry });
  const instruments = new Map<MetricName, client.Counter | client.Histogram>();
  for (const [name, def] of Object.entries(METRICS) as Array<[MetricName, (typeof METRICS)[MetricName]]>) {
    const common = { name, help: def.help, labelNames: [...def.labels] as string[], registers: [registry] };
    instruments.set(
      name,
      def.type === 'histogram'
        ? new client.Histogram({ ...common, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] })
        : new client.Counter(common),
    );
  }
  return {
    registry,
    contentType: registry.contentType,
    inc(name, labels = {}, value = 1) {
      (instruments.get(name) as client.Counter).inc(labels, value);
    },
    observe(name, labels, value) {
      (instruments.get(name) as client.Histogram).observe(labels, value);
    },
    render: () => registry.metrics(),
  };
}
