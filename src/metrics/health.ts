/**
 * /healthz: is this process fit to take work? 200 when Redis answers a PING and no stop
 * was requested; else 503 with the reason, as JSON. Used by Docker's HEALTHCHECK, compose,
 * and Kubernetes' liveness and readiness probes.
 */
import { pingRedis } from './collector.js';
import type { MetricsSource } from './source.js';

export interface Health {
  status: 'ok' | 'unavailable';
  /** Why not ok. */
  reason?: string;
  redis: { up: boolean; pingMs?: number };
  shuttingDown: boolean;
}

export async function checkHealth(source: Pick<MetricsSource, 'redis' | 'shuttingDown'>): Promise<Health> {
  const shuttingDown = source.shuttingDown();
  const ping = await pingRedis(source);
  const redis = { up: ping.up, ...(ping.seconds !== undefined ? { pingMs: Math.round(ping.seconds * 100_000) / 100 } : {}) };
  const reasons: string[] = [];
  if (shuttingDown) reasons.push('shutting down: finishing active jobs');
  if (!ping.up) reasons.push(`Redis unreachable (${ping.reason ?? 'no answer'})`);
  return { status: reasons.length ? 'unavailable' : 'ok', ...(reasons.length ? { reason: reasons.join('; ') } : {}), redis, shuttingDown };
}
