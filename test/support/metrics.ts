import { MetricsListener } from '../../src/common/metrics/metrics.listener';
import type { TestApp } from './app';

/** The in-process app's metrics endpoint, on its own port (METRICS_PORT is 0 in tests: a free port each). */
export function metricsUrl(t: TestApp): string {
  return `http://127.0.0.1:${t.app.get(MetricsListener).address().port}/metrics`;
}

/** One Prometheus scrape of the in-process app. */
export async function scrapeMetrics(t: TestApp): Promise<string> {
  const res = await fetch(metricsUrl(t));
  if (!res.ok) throw new Error(`GET ${metricsUrl(t)} answered ${res.status}`);
  return res.text();
}
