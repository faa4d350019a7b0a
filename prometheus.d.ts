import type { Gauge, Counter, Registry } from 'prom-client';

export interface PrometheusOptions {
  /** Where the metrics go (default: prom-client's global registry). */
  registry?: Registry;
  /** Put before every metric name (default ''). */
  prefix?: string;
}

export interface PrometheusMetrics {
  nativeBytes: Gauge<'tag'>;
  nativeBlocks: Gauge<'tag'>;
  nativePeakBytes: Gauge<'tag'>;
  finalizersLive: Gauge<'tag'>;
  externalReported: Gauge<string>;
  explained: Gauge<'part'>;
  leaks: Counter<'kind' | 'tag'>;
}

/** Registers the native-memwatch metrics; their values are computed on scrape. */
export declare function register(options?: PrometheusOptions): {
  metrics: PrometheusMetrics;
  unregister(): void;
};
