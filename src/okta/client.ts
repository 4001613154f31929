/**
 * The Okta HTTP client: undici Pool (keep-alive) to the org origin only, directly or
 * through a forward proxy (transport.ts), every request through the shared gate, typed
 * errors, link-driven factor lifecycle.
 *
 * On the wire: Content-Type: application/json on every POST (with or without a body, as
 * Okta's Node SDK sends it), the run in the User-Agent, answer bodies read up to a cap per
 * endpoint (read-body.ts), Okta's clock learned from Date headers (clock-offset.ts), each
 * request droppable through its AbortSignal (waiting in the gate or in flight).
 *
 * It does not retry (the queue does), except once after a 401 when the auth provider
 * refreshed its credentials. It never follows redirects: a seed-style 301 with a body is
 * a successful enroll, its Location is not requested.
 */
import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { ConfigError } from '../errors.js';
import { maskSecrets } from '../redact.js';
import { bucketForPath } from './buckets.js';
import { ClockOffset } from './clock-offset.js';
import { ForeignOriginError, OktaApiError, OktaProtocolError, RequestAbortedError } from './errors.js';
import { OriginPolicy, type RequestTarget } from './links.js';
import { RequestTimeout, toNetworkError } from './network-errors.js';
import { nextLink } from './pagination.js';
import { cleanString, factorIdFromPath, parseFactor } from './parse-factor.js';
import { classifyRateLimit, parseRateLimit } from './rate-limit-headers.js';
import { BODY_CAPS, readCapped } from './read-body.js';
import { createTransport } from './transport.js';
import { userAgentFor } from './user-agent.js';
import { mainChallenge } from './www-authenticate.js';
import type {
  AuthProvider,
  Bucket,
  EnrollOptions,
  EnrollRequest,
  FactorView,
  HttpMethod,
  LogEvent,
  LogTarget,
  OktaClient,
  OktaClientOptions,
  OktaUser,
  Page,
  RateLimitInfo,
  RequestGate,
  RequestOptions,
  SafeLink,
  UnauthorizedInfo,
} from './types.js';

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_CONNECTIONS = 64;
/** Okta's recommended page size for GET /api/v1/groups/{id}/users. */
export const GROUP_USERS_PAGE = 200;

/** One answer, body read and parsed once. */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON; undefined for an empty body; `text` kept when the body is not JSON. */
  json: unknown;
  notJson?: { length: number };
  rateLimit: RateLimitInfo | undefined;
  method: HttpMethod;
  target: RequestTarget;
  /** The Authorization header this request carried (handed back to the auth provider on a 401; never logged). */
  authorization?: string;
}

/** Whether a request is out of our hands yet (for RequestAbortedError.maybeProcessed). */
interface Dispatch {
  dispatched: boolean;
}

const enc = encodeURIComponent;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function abortOnTimeout(controller: AbortController, timeoutMs: number): void {
  controller.abort(new RequestTimeout(timeoutMs));
}

/** `p`, or its rejection with the signal's reason as soon as the signal aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (value === undefined) return 'an empty body';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export class HttpOktaClient implements OktaClient {
  readonly orgUrl: string;
  /** The forward proxy in use, without credentials (undefined: direct). */
  readonly proxy: string | undefined;
  private readonly policy: OriginPolicy;
  private readonly originSlash: string;
  private readonly dispatcher: Dispatcher;
  private readonly auth: AuthProvider;
  private readonly gate: RequestGate | undefined;
  private readonly timeoutMs: number;
  private readonly keepHref: (href: string) => string;
  private readonly clock = new ClockOffset();
  /** The proxy's credentials: masked like the API token. */
  private readonly proxySecrets: string[];

  constructor(opts: OktaClientOptions) {
    const problems: string[] = [];
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      problems.push(`timeoutMs: expected a finite number of milliseconds > 0, got ${JSON.stringify(timeoutMs)}`);
    }
    const connections = opts.connections ?? DEFAULT_CONNECTIONS;
    if (!Number.isInteger(connections) || connections < 1) {
      problems.push(`connections: expected an integer >= 1, got ${JSON.stringify(connections)}`);
    }
    if (!opts.auth || typeof opts.auth.headers !== 'function') {
      problems.push('auth: expected an AuthProvider (for example sswsAuth(token)), got none');
    }
    if (problems.length) throw new ConfigError(problems);

    this.policy = new OriginPolicy(opts.orgUrl, {
      allowInsecureHttp: opts.allowInsecureHttp,
      foreignLinks: opts.foreignLinks,
      warn: opts.warn,
    });
    this.orgUrl = this.policy.origin;
    this.originSlash = `${this.policy.origin}/`;
    this.auth = opts.auth;
    this.gate = opts.gate;
    this.timeoutMs = timeoutMs;
    const transport = createTransport(this.policy.origin, { connections, timeoutMs }, opts);
    this.dispatcher = transport.dispatcher;
    this.proxy = transport.proxy?.display;
    this.proxySecrets = transport.proxy?.secrets ?? [];
    this.keepHref = (href) => this.policy.normalizeHref(href);
  }

  // ---- users, groups, logs ----

  async getUser(idOrLogin: string, opts?: RequestOptions): Promise<OktaUser> {
    const answer = await this.exchange('GET', `/api/v1/users/${enc(idOrLogin)}`, undefined, opts);
    const user = this.toUser(answer.json);
    if (!user) throw this.protocolError('expected a user object with an `id`', answer);
    return user;
  }

  async listGroupUsers(groupIdOrNext: { groupId: string } | { next: string }, limit = GROUP_USERS_PAGE, opts?: RequestOptions): Promise<Page<OktaUser>> {
    const href = 'next' in groupIdOrNext ? groupIdOrNext.next : `/api/v1/groups/${enc(groupIdOrNext.groupId)}/users?limit=${limit}`;
    const answer = await this.exchange('GET', href, undefined, opts);
    if (!Array.isArray(answer.json)) throw this.protocolError(`expected an array of users, got ${describe(answer.json)}`, answer);
    const items: OktaUser[] = [];
    for (const raw of answer.json) {
      const user = this.toUser(raw);
      if (user) items.push(user);
    }
    return this.page(items, answer);
  }

  async findGroups(query: string, opts?: RequestOptions): Promise<Array<{ id: string; name: string }>> {
    const answer = await this.exchange('GET', `/api/v1/groups?q=${enc(query)}`, undefined, opts);
    if (!Array.isArray(answer.json)) throw this.protocolError(`expected an array of groups, got ${describe(answer.json)}`, answer);
    const groups: Array<{ id: string; name: string }> = [];
    for (const raw of answer.json) {
      if (!isObject(raw)) continue;
      const id = cleanString(raw.id);
      if (!id) continue;
      const profile = isObject(raw.profile) ? raw.profile : undefined;
      groups.push({ id, name: cleanString(profile?.name) ?? '' });
    }
    return groups;
  }

  async getLogs(query: { since?: string; filter?: string; limit?: number } | { next: string }, opts?: RequestOptions): Promise<Page<LogEvent>> {
    let href: string;
    if ('next' in query) href = query.next;
    else {
      const params = new URLSearchParams();
      if (query.since !== undefined) params.set('since', query.since);
      if (query.filter !== undefined) params.set('filter', query.filter);
      if (query.limit !== undefined) params.set('limit', String(query.limit));
      const qs = params.toString();
      href = qs ? `/api/v1/logs?${qs}` : '/api/v1/logs';
    }
    const answer = await this.exchange('GET', href, undefined, opts);
    if (!Array.isArray(answer.json)) throw this.protocolError(`expected an array of log events, got ${describe(answer.json)}`, answer);
    const items: LogEvent[] = [];
    for (const raw of answer.json) {
      const event = toLogEvent(raw);
      if (event) items.push(event);
    }
    // Okta always sends rel="next" for the System Log, even on an empty page: it is the polling cursor.
    return this.page(items, answer);
  }

  // ---- factors ----

  async enrollFactor(userId: string, body: EnrollRequest, opts?: EnrollOptions): Promise<FactorView> {
    const path = `/api/v1/users/${enc(userId)}/factors${opts?.activate ? '?activate=true' : ''}`;
    const answer = await this.exchange('POST', path, JSON.stringify(body), opts);
    return this.toFactor(answer, userId, factorIdFromPath(headerOf(answer.headers.location)));
  }

  async listFactors(userId: string, opts?: RequestOptions): Promise<FactorView[]> {
    const answer = await this.exchange('GET', `/api/v1/users/${enc(userId)}/factors`, undefined, opts);
    if (!Array.isArray(answer.json)) throw this.protocolError(`expected an array of factors, got ${describe(answer.json)}`, answer);
    const ctx = { userId, href: this.keepHref, method: answer.method, path: pathOnly(answer.target.path), clockOffsetMs: this.clock.offsetMs };
    return answer.json.map((raw) => parseFactor(raw, ctx));
  }

  async getFactor(userId: string, factorId: string, opts?: RequestOptions): Promise<FactorView> {
    const answer = await this.exchange('GET', `/api/v1/users/${enc(userId)}/factors/${enc(factorId)}`, undefined, opts);
    return this.toFactor(answer, userId, factorId);
  }

  async poll(userId: string, link: SafeLink, opts?: RequestOptions): Promise<FactorView> {
    const answer = await this.exchange(link.method ?? 'GET', link.href, undefined, opts);
    return this.toFactor(answer, userId, factorIdFromPath(answer.target.path));
  }

  async activate(userId: string, link: SafeLink, opts?: RequestOptions): Promise<FactorView> {
    const answer = await this.exchange(link.method ?? 'POST', link.href, undefined, opts);
    return this.toFactor(answer, userId, factorIdFromPath(answer.target.path));
  }

  async deleteFactor(userId: string, factorId: string, opts?: RequestOptions): Promise<void> {
    await this.exchange('DELETE', `/api/v1/users/${enc(userId)}/factors/${enc(factorId)}`, undefined, opts);
  }

  async sendActivation(_userId: string, link: { href: string; method: HttpMethod }, body?: unknown, opts?: RequestOptions): Promise<void> {
    await this.exchange(link.method ?? 'POST', link.href, body === undefined ? undefined : JSON.stringify(body), opts);
  }

  clockOffsetMs(): number {
    return this.clock.offsetMs;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  // ---- the exchange ----

  /**
   * One logical request: origin check, gate, send, at most one retry after a 401 the
   * auth provider recovered from. Returns 2xx answers (and 301 with a body); throws the
   * rest as OktaApiError / OktaNetworkError / OktaProtocolError, and RequestAbortedError
   * when opts.signal dropped it.
   */
  private async exchange(method: HttpMethod, href: string, body: string | undefined, opts: RequestOptions | undefined): Promise<Answer> {
    // The target is checked when the request is made, whatever was checked at parse time.
    const target = this.policy.requestTarget(href);
    const bucket = bucketForPath(target.path);
    const signal = opts?.signal;
    const state: Dispatch = { dispatched: false };
    const dropped = (): RequestAbortedError => new RequestAbortedError(method, pathOnly(target.path), state.dispatched, signal?.reason);
    const gateOpts = signal ? { signal } : undefined;
    let refreshed = false;
    let nonceRetried = false;
    for (;;) {
      if (signal?.aborted) throw dropped();
      let answer: Answer;
      try {
        answer = this.gate
          ? await this.gate.run(bucket, () => this.send(method, target, bucket, body, opts, state), gateOpts)
          : await this.send(method, target, bucket, body, opts, state);
      } catch (err) {
        if (signal?.aborted) throw dropped();
        throw err;
      }
      const { status } = answer;
      if (status >= 200 && status < 300) return answer;
      if (status === 301 && isObject(answer.json) && !('errorCode' in answer.json)) return answer;
      if (status === 401 && this.auth.onUnauthorized) {
        // One retry for a DPoP nonce the server asked for, one for refreshed credentials.
        const info = unauthorizedInfo(answer);
        const wantsNonce = mainChallenge(info.wwwAuthenticate)?.params.error === 'use_dpop_nonce';
        if (wantsNonce ? !nonceRetried : !refreshed) {
          if (wantsNonce) nonceRetried = true;
          else refreshed = true;
          let recovered: boolean;
          try {
            recovered = await untilAborted(this.auth.onUnauthorized(info), signal);
          } catch (err) {
            if (signal?.aborted) throw dropped();
            throw err;
          }
          if (recovered) continue;
        }
      }
      if (status >= 300 && status < 400) {
        throw this.protocolError(`answered ${status} ${STATUS_CODES[status] ?? ''} without a factor body; redirects are not followed`, answer);
      }
      throw this.apiError(method, answer);
    }
  }

  private async send(
    method: HttpMethod,
    target: RequestTarget,
    bucket: Bucket,
    body: string | undefined,
    opts: RequestOptions | undefined,
    state: Dispatch,
  ): Promise<Answer> {
    if (!target.url.startsWith(this.originSlash)) {
      throw new ForeignOriginError(new URL(target.url).origin, this.policy.origin);
    }
    const signal = opts?.signal;
    const authHeaders = await untilAborted(this.auth.headers(method, target.url), signal);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': userAgentFor(opts?.runId) };
    // As Okta's Node SDK: every POST says JSON, with or without a body (lifecycle/activate, poll).
    if (method === 'POST' || body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, authHeaders);
    const authorization = authHeaders.authorization ?? authHeaders.Authorization;
    const path = pathOnly(target.path);
    const controller = new AbortController();
    const timer = setTimeout(abortOnTimeout, this.timeoutMs, controller, this.timeoutMs);
    let status = 0;
    let rateLimit: RateLimitInfo | undefined;
    let errorCode: string | undefined;
    try {
      if (signal?.aborted) throw signal.reason;
      if (opts?.beforeSend && !(await opts.beforeSend())) throw new RequestAbortedError(method, path, false, 'the request was no longer wanted when its turn came');
      const sentAt = Date.now();
      state.dispatched = true;
      const res = await this.dispatcher.request({
        origin: this.policy.origin,
        method,
        path: target.path,
        headers,
        body,
        signal: signal ? AbortSignal.any([controller.signal, signal]) : controller.signal,
      });
      this.clock.observe(res.headers.date, sentAt, Date.now());
      status = res.statusCode;
      rateLimit = parseRateLimit(res.headers);
      let text = '';
      try {
        // Always consume or discard the body, so the connection goes back to the pool (or is closed past the cap).
        if (status === 204 || status === 304) await res.body.dump();
        else text = await readCapped(res.body, res.headers['content-length'], BODY_CAPS[bucket], { bucket, method, path });
      } catch (err) {
        // The status and headers are real even when the body is not: the gate hears of them.
        this.gate?.observe?.(bucket, rateLimit, status, undefined);
        throw err;
      }
      let json: unknown;
      let notJson: Answer['notJson'];
      if (text !== '') {
        try {
          json = JSON.parse(text);
        } catch {
          notJson = { length: text.length };
        }
      }
      if (status >= 400 && isObject(json)) errorCode = cleanString(json.errorCode);
      this.gate?.observe?.(bucket, rateLimit, status, errorCode);
      const answer: Answer = { status, headers: res.headers, json, rateLimit, method, target, authorization };
      if (notJson) answer.notJson = notJson;
      return answer;
    } catch (err) {
      if (signal?.aborted) throw err;
      const networkError = toNetworkError(err, method, path, this.timeoutMs, this.proxy);
      if (networkError) throw networkError;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- answers → results ----

  private toFactor(answer: Answer, userId: string, factorId: string | undefined): FactorView {
    if (answer.notJson) throw this.protocolError(`expected a JSON factor, got a non-JSON body of ${answer.notJson.length} characters`, answer);
    return parseFactor(answer.json, {
      userId,
      factorId,
      href: this.keepHref,
      method: answer.method,
      path: pathOnly(answer.target.path),
      clockOffsetMs: this.clock.offsetMs,
    });
  }

  private toUser(raw: unknown): OktaUser | undefined {
    if (!isObject(raw)) return undefined;
    const id = cleanString(raw.id);
    if (!id) return undefined;
    const profile = isObject(raw.profile) ? raw.profile : undefined;
    const user: OktaUser = { id, login: cleanString(profile?.login) ?? '' };
    const status = cleanString(raw.status);
    if (status) user.status = status;
    const timeZone = cleanString(profile?.timezone);
    if (timeZone) user.timeZone = timeZone;
    return user;
  }

  private page<T>(items: T[], answer: Answer): Page<T> {
    const next = nextLink(answer.headers.link);
    return next ? { items, next: this.policy.normalizeHref(next) } : { items };
  }

  private protocolError(message: string, answer: Answer): OktaProtocolError {
    return new OktaProtocolError(message, answer.method, pathOnly(answer.target.path));
  }

  private apiError(method: HttpMethod, answer: Answer): OktaApiError {
    const { status, json, rateLimit } = answer;
    let errorCode = `HTTP_${status}`;
    let errorSummary = `${STATUS_CODES[status] ?? 'Unexpected status'}${answer.notJson ? ` (non-JSON body of ${answer.notJson.length} characters)` : ''}`;
    let causes: string[] = [];
    if (isObject(json)) {
      const code = cleanString(json.errorCode);
      if (code) {
        errorCode = code;
        errorSummary = this.scrub(cleanString(json.errorSummary) ?? '');
        if (Array.isArray(json.errorCauses)) {
          causes = [];
          for (const cause of json.errorCauses) {
            const summary = isObject(cause) ? cleanString(cause.errorSummary) : cleanString(cause);
            if (summary) causes.push(this.scrub(summary));
          }
        }
      }
    }
    if (status === 403 || status === 401) {
      const challenge = mainChallenge(answer.headers['www-authenticate']);
      const endpoint = `${method} ${endpointTemplate(pathOnly(answer.target.path))}`;
      if (status === 403 && challenge?.params.error === 'insufficient_scope') {
        const scope = challenge.params.scope?.trim();
        errorCode = 'INSUFFICIENT_SCOPE';
        errorSummary = scope
          ? `the service app lacks scope ${scope} for ${endpoint}; grant it on the app's Okta API Scopes tab and add it to --scopes`
          : `the access token lacks a scope required for ${endpoint} (Okta did not say which); check the app's Okta API Scopes tab and --scopes`;
      } else if (status === 403 && errorCode === 'E0000006' && this.auth.kind === 'oauth') {
        errorSummary = `${errorSummary || 'You do not have permission to perform the requested action'} — the service app needs an admin role allowed to ${endpoint} (for example Organization Administrator, or a custom role with user and factor permissions), assigned on the app's Admin roles tab`;
      } else if (status === 401 && this.auth.kind === 'oauth' && challenge?.params.error) {
        const description = challenge.params.error_description ? `: ${this.scrub(challenge.params.error_description)}` : '';
        causes = [...causes, `${challenge.scheme === 'dpop' ? 'DPoP' : 'Bearer'} ${challenge.params.error}${description}`];
      }
    }
    const requestId = answer.headers['x-okta-request-id'];
    return new OktaApiError(
      status,
      errorCode,
      errorSummary,
      causes,
      Array.isArray(requestId) ? requestId[0] : requestId,
      method,
      pathOnly(answer.target.path),
      rateLimit,
      status === 429 ? classifyRateLimit(rateLimit) : undefined,
    );
  }

  /**
   * An error summary that echoes a credential (or its first characters: any run of 8 or
   * more that starts one) must not carry it into logs, reports or HTML.
   */
  private scrub(text: string): string {
    return maskSecrets(text, [...this.auth.secrets(), ...this.proxySecrets]);
  }
}

function unauthorizedInfo(answer: Answer): UnauthorizedInfo {
  const info: UnauthorizedInfo = {};
  const www = answer.headers['www-authenticate'];
  if (www !== undefined) info.wwwAuthenticate = Array.isArray(www) ? www.join(', ') : www;
  const nonce = answer.headers['dpop-nonce'];
  if (nonce !== undefined) info.dpopNonce = Array.isArray(nonce) ? nonce[0] : nonce;
  if (answer.authorization !== undefined) info.authorization = answer.authorization;
  return info;
}

const ID_AFTER: Readonly<Record<string, string>> = { users: '{userId}', factors: '{factorId}', groups: '{groupId}', qr: '{token}' };

/**
 * A request path as its endpoint, for messages: /api/v1/users/00u1/factors/ufs2/lifecycle/activate →
 * /api/v1/users/{userId}/factors/{factorId}/lifecycle/activate.
 */
export function endpointTemplate(path: string): string {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const placeholder = ID_AFTER[parts[i - 1]!];
    if (placeholder && parts[i]) parts[i] = placeholder;
  }
  return parts.join('/');
}

/** String values of a map (detailEntry, debugData); other values are left out. */
function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const s = typeof v === 'number' || typeof v === 'boolean' ? String(v) : cleanString(v);
    if (s !== undefined) (out ??= {})[k] = s;
  }
  return out;
}

export function toLogEvent(raw: unknown): LogEvent | undefined {
  if (!isObject(raw)) return undefined;
  const uuid = cleanString(raw.uuid);
  if (!uuid) return undefined;
  const actor = isObject(raw.actor) ? raw.actor : undefined;
  const targetUserIds: string[] = [];
  const targets: LogTarget[] = [];
  if (Array.isArray(raw.target)) {
    for (const t of raw.target) {
      if (!isObject(t)) continue;
      const id = cleanString(t.id);
      const type = cleanString(t.type) ?? '';
      if (!id) continue;
      if (type === 'User') targetUserIds.push(id);
      const target: LogTarget = { id, type };
      const alternateId = cleanString(t.alternateId);
      if (alternateId) target.alternateId = alternateId;
      const displayName = cleanString(t.displayName);
      if (displayName) target.displayName = displayName;
      const detailEntry = stringMap(t.detailEntry);
      if (detailEntry) target.detailEntry = detailEntry;
      targets.push(target);
    }
  }
  const event: LogEvent = {
    uuid,
    eventType: cleanString(raw.eventType) ?? '',
    published: cleanString(raw.published) ?? '',
    targetUserIds,
    targets,
  };
  const actorId = cleanString(actor?.id);
  if (actorId) event.actorId = actorId;
  const outcome = cleanString(isObject(raw.outcome) ? raw.outcome.result : undefined)?.toUpperCase();
  if (outcome) event.outcome = outcome;
  const debugData = stringMap(isObject(raw.debugContext) ? raw.debugContext.debugData : undefined);
  if (debugData) event.debugData = debugData;
  return event;
}

/** The client the runner uses. Throws ConfigError / InsecureTransportError for an unusable configuration. */
export function createOktaClient(opts: OktaClientOptions): OktaClient {
  return new HttpOktaClient(opts);
}
