/**
 * Prometheus metrics of one server process (prom-client). A stub until the metrics work lands:
 * the call sites in the server, the HTTP app and `grantry start --workers` are already in place.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';

export interface MetricsListener {
  /** Where GET /metrics is served, e.g. http://127.0.0.1:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

export class Metrics {
  /** Counts and times every request by route and status. */
  instrumentHttp(_app: FastifyInstance): void {}

  /** The separate listener of GET /metrics (metrics_port); undefined when metrics are off. */
  async listen(_config: Config): Promise<MetricsListener | undefined> {
    return undefined;
  }
}

/**
 * `grantry start --workers N`: the primary serves GET /metrics on metrics_port, the sum of its
 * workers' metrics; the workers open no listener of their own.
 */
export async function listenForClusterMetrics(_config: Config): Promise<MetricsListener | undefined> {
  return undefined;
}
