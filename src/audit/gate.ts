/**
 * The audit's gate to Okta: the shared rate limiter (Redis), in its `other` lane, so
 * an audit running beside a migration shares the org's budget instead of eating it:
 * factor reads count against the factors bucket, user lookups and group pages against
 * theirs, across every process on the same Redis and prefix.
 */
import type { ProcessConfig } from '../config.js';
import { createSharedLimiter } from '../limiter/index.js';
import { limiterConnection } from '../queue/connection.js';
import { registerSecret, type Logger } from '../logger.js';
import { createAuth } from '../okta/auth.js';
import { createOktaClient } from '../okta/client.js';
import type { OktaClient, RequestGate } from '../okta/types.js';

export interface AuditGate {
  gate: RequestGate;
  close(): Promise<void>;
}

export async function openAuditGate(config: ProcessConfig, logger: Logger): Promise<AuditGate> {
  const limiter = await createSharedLimiter({
    redisUrl: config.redisUrl,
    connect: limiterConnection(config.redis),
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

export interface ReadOnlyOkta {
  okta: OktaClient;
  /** Closes the client and the limiter. */
  close(): Promise<void>;
}

/**
 * An Okta client for read-only work beside a migration (audit, dry runs): signed in like
 * the runner (API token or OAuth app, secrets registered with the log redactor), with
 * every request through the shared limiter's `other` lane.
 */
export async function openReadOnlyOkta(config: ProcessConfig, logger: Logger): Promise<ReadOnlyOkta> {
  const gate = await openAuditGate(config, logger);
  const warn = (message: string, meta?: Record<string, unknown>) => logger.warn(message, meta);
  const okta = createOktaClient({
    orgUrl: config.orgUrl,
    auth: createAuth(config, { warn, onSecret: registerSecret }),
    timeoutMs: config.requestTimeoutMs,
    allowInsecureHttp: config.allowInsecureHttp,
    warn,
    gate: gate.gate,
  });
  return {
    okta,
    close: async () => {
      await okta.close().catch(() => undefined);
      await gate.close().catch(() => undefined);
    },
  };
}
