/**
 * The audit's gate to Okta: the shared rate limiter (Redis), in its `other` lane, so
 * an audit running beside a migration shares the org's budget instead of eating it:
 * factor reads count against the factors bucket, user lookups and group pages against
 * theirs, across every process on the same Redis and prefix.
 */
import type { ProcessConfig } from '../config.js';
import { createSharedLimiter } from '../limiter/index.js';
import type { Logger } from '../logger.js';
import type { RequestGate } from '../okta/types.js';

export interface AuditGate {
  gate: RequestGate;
  close(): Promise<void>;
}

export async function openAuditGate(config: ProcessConfig, logger: Logger): Promise<AuditGate> {
  const limiter = await createSharedLimiter({
    redisUrl: config.redisUrl,
    prefix: config.prefix,
    buckets: {
      factors: { ratePerMinute: config.rateLimit, maxConcurrent: config.maxConcurrent },
      users: { ratePerMinute: config.usersRateLimit, maxConcurrent: config.maxConcurrent },
      groups: { ratePerMinute: config.usersRateLimit, maxConcurrent: config.maxConcurrent },
    },
    logger,
  });
  return { gate: limiter.lane('other'), close: () => limiter.close() };
}
