/**
 * What `worker` and `run` switch on for the people who host them: the /metrics and
 * /healthz server (--metrics-port) and OpenTelemetry traces (OTEL_* environment). Started
 * before the runtime, so a port already in use fails before any job is taken; attached to
 * the runtime once it runs; closed after it, so /healthz answers 503 during the stop.
 */
import type { Telemetry } from 'bullmq';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { packageVersion } from '../okta/user-agent.js';
import { MetricsListenError, startMetricsServer, type MetricsServer } from './server.js';
import { metricsSourceOf, type ProcessBudgets, type RuntimeLike } from './source.js';
import { startTracing, type Tracing } from './tracing.js';

export interface ObservabilityConfig extends ProcessBudgets {
  metricsPort?: number;
  metricsHost: string;
}

export interface Observability {
  readonly metrics?: MetricsServer;
  /** For startRuntime's telemetry option; undefined when tracing is off. */
  readonly telemetry?: Telemetry;
  attach(runtime: RuntimeLike, shuttingDown: () => boolean): void;
  close(): Promise<void>;
}

export async function startObservability(config: ObservabilityConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Observability> {
  const version = packageVersion();
  let metrics: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metrics = await startMetricsServer({
        port: config.metricsPort,
        host: config.metricsHost,
        version,
        onError: (err) => logger.warn('metrics: a scrape failed', { error: err.message }),
      });
    } catch (err) {
      if (err instanceof MetricsListenError) throw new ConfigError([err.message]);
      throw err;
    }
    logger.info(`metrics and health on ${metrics.url}/metrics and ${metrics.url}/healthz`, { metricsUrl: metrics.url });
  }
  let tracing: Tracing;
  try {
    tracing = await startTracing({ env, version, log: (m, warning) => (warning ? logger.warn(m) : logger.verbose(m)) });
  } catch (err) {
    await metrics?.close();
    throw err;
  }
  return {
    metrics,
    telemetry: tracing.telemetry,
    attach: (runtime, shuttingDown) => metrics?.attach(metricsSourceOf(runtime, config, shuttingDown)),
    close: async () => {
      await metrics?.close();
      await tracing.shutdown();
    },
  };
}
