/**
 * The Okta client's public contract: what the runner (jobs/, src/queue, src/commands)
 * may rely on. The implementation lives beside this file (client.ts and friends);
 * the simulator (src/simulator) never imports from here, nor this from it.
 */

/** Okta's rate-limit buckets the runner meets. Each has its own budget at Okta. */
export type Bucket = 'factors' | 'users' | 'groups' | 'logs' | 'oauth';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A link that is safe to keep (in Redis, job data, reports): poll, activate, self, deactivate. */
export interface SafeLink {
  href: string;
  method: HttpMethod;
}

/**
 * Activation material. These are secrets: whoever holds one can bind a device to
 * the user. Never written to Redis, job data, logs or reports.
 */
export interface ActivationSecrets {
  qrcodeHref?: string;
  /** Seed dialect: _embedded.install.barcode */
  barcode?: string;
  /** Seed dialect: _embedded.install.appStore */
  appStore?: string;
  /** token:software:totp shared secret */
  sharedSecret?: string;
  /** _embedded.activation._links.send: email / sms activation links */
  send?: Array<{ name: string; href: string; method: HttpMethod }>;
}

/**
 * Normalised factor answer: every enroll / poll / get / list / activate becomes one of these.
 * `cancelled` and `error` are the Push Factor Activation object's factorResult CANCELLED / ERROR.
 */
export type FactorState = 'waiting' | 'activated' | 'expired' | 'cancelled' | 'error' | 'other';

export interface FactorView {
  factorId: string;
  /** Taken from the request path (Okta's factor body does not carry it). */
  userId: string;
  factorType: string;
  provider: string;
  /**
   * Okta's status as last reported: ACTIVE, ACTIVATED (seed), PENDING_ACTIVATION,
   * EXPIRED, ... or TIMEOUT / WAITING when the answer was a poll result (factorResult).
   */
  status: string;
  /** waiting (PENDING_ACTIVATION / WAITING), activated (ACTIVE / ACTIVATED), expired (EXPIRED / TIMEOUT), other (e.g. INACTIVE). */
  state: FactorState;
  created?: string;
  lastUpdated?: string;
  /** When the current activation expires (seed: top level; today: _embedded.activation.expiresAt or top level in a poll answer). */
  expiresAt?: string;
  /**
   * expiresAt on this machine's clock (epoch ms): Okta's time corrected by the difference
   * between the answer's Date header and the local clock. Set whenever expiresAt parses.
   */
  expiresAtMs?: number;
  /** The answer's factorResult (WAITING, TIMEOUT, CANCELLED, ERROR, ...), when it carried one. */
  factorResult?: string;
  /**
   * `factor`: a factor object (has an id); `activation`: a Push Factor Activation object alone
   * (no id, no _embedded: a restart answer or a poll result), its id taken from the request path.
   */
  shape?: 'factor' | 'activation';
  /**
   * The answer's only poll link is the factor's `…/lifecycle/activate` (the archived reference's
   * restart answer): following it is a POST that may itself restart the activation.
   */
  pollIsActivate?: boolean;
  links: {
    poll?: SafeLink;
    activate?: SafeLink;
    self?: SafeLink;
    deactivate?: SafeLink;
  };
  /** Present only on answers that carry activation material. Never persist. */
  secrets?: ActivationSecrets;
  /** The seed's profile.deviceName echo, when present. */
  deviceName?: string;
}

export interface OktaUser {
  id: string;
  login: string;
  /** ACTIVE, STAGED, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED, DEPROVISIONED. */
  status?: string;
  /** profile.timezone (an IANA zone such as Europe/Berlin), when the profile has one. */
  timeZone?: string;
}

/** Parsed X-Rate-Limit-* headers (plus Date) of one answer. */
export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** X-Rate-Limit-Reset as epoch milliseconds. */
  resetAtMs: number;
  /**
   * Milliseconds until the reset, computed against the answer's Date header when present
   * (as Okta's Node SDK does: reset*1000 - Date), else against the local clock. >= 0.
   */
  resetInMs: number;
}

/** Which kind of 429: a bucket ran dry, the org's concurrency cap, or a per-resource limit (one factor / one phone). */
export type RateLimitKind = 'bucket' | 'concurrency' | 'resource';

export interface EnrollRequest {
  factorType: string;
  provider: string;
  /** Seed-style extra fields; sent only when present. */
  deviceType?: string;
  profile?: { deviceName?: string; phoneNumber?: string; email?: string };
}

/** Per-request options every client method takes. */
export interface RequestOptions {
  /**
   * Drop the request: while it waits in the limiter it never leaves; in flight it is
   * aborted (a RequestAbortedError; the request may have reached Okta). A job that lost
   * its BullMQ lock aborts this way.
   */
  signal?: AbortSignal;
  /** The run the request belongs to: carried in the User-Agent, so Okta's System Log ties it to the run. */
  runId?: string;
  /**
   * Asked after the limiter granted the request, right before it is sent: false drops it
   * (RequestAbortedError, not processed). A job checks that it still holds its lock here, so
   * a request that waited in the limiter while the job was taken over is never sent.
   */
  beforeSend?: () => Promise<boolean>;
}

export interface EnrollOptions extends RequestOptions {
  /** activate=true query parameter (sms, call, email). */
  activate?: boolean;
}

/** One page of a paginated list (groups/{id}/users, logs). `next` is the rel="next" link, to follow as-is. */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** One entry of a LogEvent's `target` list. */
export interface LogTarget {
  id: string;
  /** e.g. User, AuthenticatorEnrollment, AppInstance. */
  type: string;
  alternateId?: string;
  displayName?: string;
  /** detailEntry, string values only. */
  detailEntry?: Record<string, string>;
}

export interface LogEvent {
  uuid: string;
  eventType: string;
  published: string;
  actorId?: string;
  /** Ids of the targets of type User. */
  targetUserIds: string[];
  /** Every target, the User ones included. */
  targets: LogTarget[];
  /** outcome.result: SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, CHALLENGE, UNKNOWN; undefined when absent. */
  outcome?: string;
  /** debugContext.debugData, string values only. A debugging aid, no contract (Okta says so). */
  debugData?: Record<string, string>;
}

/**
 * Gate every request passes through: the shared rate limiter. The client calls
 * run(bucket, fn) around each HTTP request and observe() with every answer's headers.
 */
export interface RequestGate {
  /**
   * Run fn when the bucket's budget allows. With `signal`, a request still waiting for its
   * permit is dropped when the signal aborts (the promise rejects with the signal's reason).
   */
  run<T>(bucket: Bucket, fn: () => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>;
  /**
   * Every answer (429s and errors included), before the client returns or throws. `info` is
   * undefined when the answer had no usable rate-limit headers; `errorCode` is Okta's
   * errorCode when the answer was an error object (E0000010 read-only mode pauses the bucket).
   */
  observe?(bucket: Bucket, info: RateLimitInfo | undefined, status: number, errorCode?: string): void;
}

/** What the client tells the auth provider about a 401 answer. */
export interface UnauthorizedInfo {
  /** The answer's WWW-Authenticate header (e.g. `DPoP error="use_dpop_nonce"`). */
  wwwAuthenticate?: string;
  /** The answer's DPoP-Nonce header. */
  dpopNonce?: string;
  /**
   * The Authorization header the rejected request carried, so a provider can tell a
   * stale token (already replaced by a concurrent refresh) from the current one.
   */
  authorization?: string;
}

/** Supplies the Authorization header (SSWS token, or an OAuth 2.0 access token with DPoP). */
export interface AuthProvider {
  /** `ssws` (API token) or `oauth` (service app): shapes the wording of 401/403 errors. */
  readonly kind?: 'ssws' | 'oauth';
  /** Headers to add to a request to the org origin (`url` is the full request URL). */
  headers(method: HttpMethod, url: string): Promise<Record<string, string>>;
  /**
   * Called on a 401; return true when credentials were refreshed (or a DPoP nonce was
   * learned) and the request may be retried. The client retries at most once for a
   * nonce and once for a refresh.
   */
  onUnauthorized?(info?: UnauthorizedInfo): Promise<boolean>;
  /** Strings that must never be logged (token, access tokens): for the log redactor. */
  secrets(): string[];
}

export interface OktaClientOptions {
  /** https://example.okta.com : the only origin that ever receives credentials. */
  orgUrl: string;
  auth: AuthProvider;
  /** Per request: headers + body. Default 15000. */
  timeoutMs?: number;
  /** Allow plain http:// to a non-loopback host (a simulator in a private compose network). */
  allowInsecureHttp?: boolean;
  /** Links / Location on another origin: 'rebase' /api/v1 paths onto the org origin (warn), or 'fail'. Default 'rebase'. */
  foreignLinks?: 'rebase' | 'fail';
  gate?: RequestGate;
  /** Warnings (foreign links rebased, insecure http). */
  warn?: (message: string, meta?: Record<string, unknown>) => void;
  /** undici Pool connections. Default 64. */
  connections?: number;
  /**
   * Forward proxy for every request (http://host:port, credentials allowed in the URL).
   * Undefined: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, as Okta's SDKs do.
   * `false`: never a proxy.
   */
  proxy?: string | false;
  /** Environment for the proxy variables (tests). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Extra CA certificates (PEM text, or several) trusted beside Node's own roots and
   * NODE_EXTRA_CA_CERTS: a TLS-inspecting corporate proxy's CA, a private CA in front of a
   * test org. Used for the org and for an https:// proxy.
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

export interface OktaClient {
  readonly orgUrl: string;
  getUser(idOrLogin: string, opts?: RequestOptions): Promise<OktaUser>;
  enrollFactor(userId: string, body: EnrollRequest, opts?: EnrollOptions): Promise<FactorView>;
  listFactors(userId: string, opts?: RequestOptions): Promise<FactorView[]>;
  getFactor(userId: string, factorId: string, opts?: RequestOptions): Promise<FactorView>;
  /** Follow a poll link with its method (GET seed / POST today). userId is for the view. */
  poll(userId: string, link: SafeLink, opts?: RequestOptions): Promise<FactorView>;
  /** POST .../lifecycle/activate (restart an expired push activation). */
  activate(userId: string, link: SafeLink, opts?: RequestOptions): Promise<FactorView>;
  deleteFactor(userId: string, factorId: string, opts?: RequestOptions): Promise<void>;
  /** POST an activation `send` link (email / sms); body e.g. {profile:{phoneNumber}} for an SMS to a given phone. */
  sendActivation(userId: string, link: { href: string; method: HttpMethod }, body?: unknown, opts?: RequestOptions): Promise<void>;
  listGroupUsers(groupIdOrNext: { groupId: string } | { next: string }, limit?: number, opts?: RequestOptions): Promise<Page<OktaUser>>;
  findGroups(query: string, opts?: RequestOptions): Promise<Array<{ id: string; name: string }>>;
  /** GET /api/v1/logs (first call with since/filter; later calls follow `next`). */
  getLogs(query: { since?: string; filter?: string; limit?: number } | { next: string }, opts?: RequestOptions): Promise<Page<LogEvent>>;
  /**
   * Okta's clock minus this machine's (ms), from the Date headers of recent answers
   * (0 until an answer carried one). expiresAtMs is already corrected by it.
   */
  clockOffsetMs(): number;
  close(): Promise<void>;
}
