/**
 * Getting the activation to the user: right after a push enrollment (or an activation
 * restart) Okta's answer carries `send` links (email, sms); POSTing one makes Okta send
 * the user an activation link. Without this a bulk enrollment ends with nearly everyone
 * `expired`: the user is not looking at the admin's screen.
 *
 * The send links and the QR code are activation material: used here, in memory, and
 * never stored. A delivery that fails does not fail the row (the factor exists and the
 * user may still scan it another way); the report's `delivery` column says what happened.
 */
import { OktaApiError, OktaNetworkError, RequestAbortedError } from '../src/okta/errors.js';
import type { ActivationSecrets, RequestOptions } from '../src/okta/types.js';
import type { InputRow } from '../src/csv/input-row.js';
import type { RunSettings } from '../src/config.js';
import type { Delivery } from '../src/rows/state.js';
import { jitter } from '../src/queue/backoff.js';
import type { JobDeps } from '../src/queue/tasks.js';

/**
 * Okta allows one SMS per phone per 30 s (E0000109, a per-resource 429 whose
 * X-Rate-Limit-Reset is the bucket's, not the phone's): wait in the job with a growing
 * delay (1, 2, 4, 8, 16, 30 s) rather than reading the wait out of the message text.
 */
const RESOURCE_WAITS_MS = [1000, 2000, 4000, 8000, 16_000, 30_000];
const TRIES = RESOURCE_WAITS_MS.length + 1;
/** A bucket 429: wait for the reset if it is this close. */
const MAX_BUCKET_WAIT_MS = 35_000;

export async function deliverActivation(
  userId: string,
  input: InputRow,
  secrets: ActivationSecrets | undefined,
  settings: Pick<RunSettings, 'deliver' | 'smsToCsvPhone'>,
  deps: Pick<JobDeps, 'okta' | 'logger'>,
  opts: RequestOptions & { row: number },
): Promise<Delivery> {
  if (settings.deliver === 'none' || input.factorType !== 'push') return 'none';
  const link = secrets?.send?.find((l) => l.name.toLowerCase() === settings.deliver);
  if (!link) return 'failed:NO_SEND_LINK';
  const body = settings.deliver === 'sms' && settings.smsToCsvPhone && input.phoneNumber ? { profile: { phoneNumber: input.phoneNumber } } : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.okta.sendActivation(userId, link, body, opts);
      return 'sent';
    } catch (err) {
      if (err instanceof RequestAbortedError) return 'failed:INTERRUPTED';
      const last = attempt >= TRIES;
      if (err instanceof OktaApiError && err.status === 429 && !last) {
        const wait = err.rateLimitKind === 'resource' ? RESOURCE_WAITS_MS[attempt - 1]! + jitter(250) : (err.rateLimit?.resetInMs ?? 1000) + jitter(500);
        if (wait <= MAX_BUCKET_WAIT_MS) {
          await sleep(wait, opts.signal);
          continue;
        }
      }
      if ((err instanceof OktaNetworkError || (err instanceof OktaApiError && err.status >= 500 && !err.isReadOnly)) && !last) {
        await sleep(250 * attempt + jitter(250), opts.signal);
        continue;
      }
      const code = err instanceof OktaApiError ? err.errorCode : err instanceof OktaNetworkError ? 'NETWORK_ERROR' : 'ERROR';
      // E0000001 here usually means the user was quicker: the factor is already active.
      const level = err instanceof OktaApiError && err.errorCode === 'E0000001' ? 'info' : 'warn';
      deps.logger.log(level, 'activation delivery failed', { runId: opts.runId, row: opts.row, channel: settings.deliver, error: (err as Error).message });
      return `failed:${code}`;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
