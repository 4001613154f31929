/**
 * The audit's gate to Okta: the shared rate limiter (Redis), in its `other` lane, so
 * an audit running beside a migration shares the org's budget instead of eating it:
 * factor reads count against the factors bucket, user lookups and group pages against
 * theirs, across every process on the same Redis and prefix.
 */
import type { ProcessConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { OktaClient, RequestGate } from '../okta/types.js';
import { openAuth, openLimiter, openOkta } from '../okta-clients.js';

export interface AuditGate {
  gate: RequestGate;
  close(): Promise<void>;
}

export async function openAuditGate(config: ProcessConfig, logger: Logger): Promise<AuditGate> {
  const limiter = await openLimiter(config, logger);
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
  const okta = openOkta(config, logger, openAuth(config, logger), gate.gate);
  return {
    okta,
    close: async () => {
      await okta.close().catch(() => undefined);
      await gate.close().catch(() => undefined);
    },
  };
}
