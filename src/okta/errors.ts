/**
 * Errors the Okta client throws. The runner steers the queue by their class and
 * by `errorCode`, never by message text.
 */
import type { RateLimitInfo, RateLimitKind } from './types.js';

/** Okta answered with an error object (4xx / 5xx). */
export class OktaApiError extends Error {
  override readonly name = 'OktaApiError';
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly errorSummary: string,
    readonly causes: string[],
    readonly requestId: string | undefined,
    readonly method: string,
    /** Path only (no origin, no query): safe to log. */
    readonly path: string,
    readonly rateLimit?: RateLimitInfo,
    /** Set on 429s. */
    readonly rateLimitKind?: RateLimitKind,
  ) {
    super(`${method} ${path} → ${status} ${errorCode}: ${errorSummary}${causes.length ? ` (${causes.join('; ')})` : ''}`);
  }

  get isRateLimit(): boolean {
    return this.status === 429;
  }

  /** 5xx: worth retrying with backoff. */
  get isServerError(): boolean {
    return this.status >= 500;
  }

  /** Okta is in read-only mode (maintenance): 503 E0000010. The bucket pauses; rows wait. */
  get isReadOnly(): boolean {
    return this.errorCode === 'E0000010';
  }
}

/**
 * The request was dropped on purpose through its AbortSignal (a job that lost its lock).
 * `maybeProcessed`: it had been sent, so Okta may have acted on it.
 */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly maybeProcessed: boolean,
    readonly reason?: unknown,
  ) {
    super(`${method} ${path}: dropped (${reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted'})`);
  }
}

/**
 * The request may or may not have reached Okta: connection reset, timeout, DNS,
 * refused. `maybeProcessed` is true when the request had been sent (an enroll may
 * have happened: adopt before enrolling again).
 */
export class OktaNetworkError extends Error {
  override readonly name = 'OktaNetworkError';
  constructor(
    message: string,
    readonly code: string,
    readonly method: string,
    readonly path: string,
    readonly maybeProcessed: boolean,
  ) {
    super(`${method} ${path}: ${message}`);
  }
}

/** A link or Location pointed at an origin other than the org's and policy said fail. */
export class ForeignOriginError extends Error {
  override readonly name = 'ForeignOriginError';
  readonly errorCode = 'FOREIGN_LINK';
  constructor(readonly linkOrigin: string, readonly orgOrigin: string) {
    super(`Refusing to follow a link to ${linkOrigin}: only ${orgOrigin} receives the API credentials`);
  }
}

/** Plain http:// to a non-loopback host without --allow-insecure-http. */
export class InsecureTransportError extends Error {
  override readonly name = 'InsecureTransportError';
  constructor(readonly url: string) {
    super(
      `Refusing plain http:// to ${url}: the API token would cross the network unencrypted. ` +
        'Use https://, or pass --allow-insecure-http for a simulator in a private network.',
    );
  }
}

/** Okta answered something that is not a factor / user / error object we can read. */
export class OktaProtocolError extends Error {
  override readonly name = 'OktaProtocolError';
  readonly errorCode = 'BAD_RESPONSE';
  constructor(message: string, readonly method: string, readonly path: string) {
    super(`${method} ${path}: ${message}`);
  }
}
