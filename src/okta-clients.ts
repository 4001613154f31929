/**
 * The runner's way into Okta, made from its configuration: the shared rate limiter with
 * the budgets the settings give, and Okta clients signed in like the runner (API token or
 * OAuth app; every secret registered with the log redactor). The runtime, the audit and
 * the dry runs all open them here, so they share one budget the same way.
 */
import type { ProcessConfig } from './config.js';
import { createSharedLimiter, type SharedLimiter } from './limiter/index.js';
import { limiterConnection } from './queue/connection.js';
import { registerSecret, type Logger } from './logger.js';
import { createAuth } from './okta/auth.js';
import { createOktaClient } from './okta/client.js';
import type { AuthProvider, OktaClient, RequestGate } from './okta/types.js';

/** The shared limiter with the configured budget of every bucket this process calls. */
export function openLimiter(config: ProcessConfig, logger: Logger, opts: { systemLog?: boolean } = {}): Promise<SharedLimiter> {
  return createSharedLimiter({
    redisUrl: config.redisUrl,
    connect: limiterConnection(config.redis),
    prefix: config.prefix,
    buckets: {
      factors: { ratePerMinute: config.rateLimit, maxConcurrent: config.maxConcurrent },
      users: { ratePerMinute: config.usersRateLimit, maxConcurrent: config.maxConcurrent },
      groups: { ratePerMinute: config.usersRateLimit, maxConcurrent: config.maxConcurrent },
      ...(opts.systemLog ? { logs: { ratePerMinute: config.logsRateLimit, maxConcurrent: 2 } } : {}),
    },
    pollShare: config.pollShare,
    readOnlyFirstPauseMs: config.readOnlyPauseMs,
    logger,
  });
}

/** One sign-in (the token, or the service app's key and its access tokens, masked in every log line). */
export function openAuth(config: ProcessConfig, logger: Logger): AuthProvider {
  return createAuth(config, { warn: (message, meta) => logger.warn(message, meta), onSecret: registerSecret });
}

/** An Okta client on the org, through `gate` (a limiter lane). */
export function openOkta(config: ProcessConfig, logger: Logger, auth: AuthProvider, gate: RequestGate): OktaClient {
  return createOktaClient({
    orgUrl: config.orgUrl,
    auth,
    timeoutMs: config.requestTimeoutMs,
    allowInsecureHttp: config.allowInsecureHttp,
    warn: (message, meta) => logger.warn(message, meta),
    gate,
  });
}
