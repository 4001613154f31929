/**
 * The simulator's HTTP pipeline (node:http, keep-alive): for every `/api/v1` request,
 * in order: concurrency limit, the path's rate-limit bucket (or an injected absurd
 * reset), the token, route and scope, read-only mode, then (after the configured
 * latency) injected 500/503, the body checks (strictBodies), the handler, and the
 * injected connection reset (the request was processed; the answer is never sent).
 * Every answer carries X-Rate-Limit-*, Date (the org's clock) and X-Okta-Request-Id,
 * and may be padded or have its headers doubled by the faults in force.
 * `/__sim/*` is outside all of this. `POST /oauth2/v1/token` has its own bucket
 * (oauth) and no token; API requests may carry an SSWS token or an OAuth access token
 * (Bearer / DPoP), whose scope is checked once the route is known.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OktaApi, type ApiAnswer, type RouteMatch } from './api.js';
import { Bucket, concurrencyHeaders, type BucketName, type RateHeaders } from './rate-limits.js';
import { errorBody, errors, SimHttpError } from './okta-errors.js';
import { alphanumeric, between, seededRandom, type Random } from './random.js';
import type { SimulatorOptions } from './options.js';
import type { Clock } from './clock.js';
import { iso } from './clock.js';
import { Faults } from './faults.js';
import { undefinedProperties } from './strict-bodies.js';
import { OAuthServer, TOKEN_PATH, type OAuthPrincipal } from './oauth.js';

const MAX_BODY = 1024 * 1024;

export interface SimRequestRecord {
  at: string;
  method: string;
  /** Path and query as received. */
  path: string;
  /** HTTP status, or 0 when the connection was reset instead of answered. */
  status: number;
  requestId: string;
  /** The Authorization header was present (its value is never kept). */
  authorized: boolean;
  retryFor?: string;
  retryCount?: string;
}

export interface Counters {
  total: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, number>;
  rateLimited: number;
  rateLimitedBy: { bucket: number; concurrency: number; resource: number };
  maxConcurrent: number;
  connectionResets: number;
  injectedErrors: number;
}

function newCounters(): Counters {
  return {
    total: 0,
    byStatus: {},
    byRoute: {},
    rateLimited: 0,
    rateLimitedBy: { bucket: 0, concurrency: 0, resource: 0 },
    maxConcurrent: 0,
    connectionResets: 0,
    injectedErrors: 0,
  };
}

/** An inspection endpoint: the method, the query, and a POST's JSON body (undefined when there was none). */
export type SimEndpoint = (method: string, query: URLSearchParams, body: unknown) => { status: number; body?: unknown } | undefined;

export class SimServer {
  readonly server: Server;
  counters: Counters = newCounters();
  inFlight = 0;
  readonly buckets: Record<BucketName, Bucket>;
  readonly requestLog: SimRequestRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly dice: Random;
  private readonly ids: Random;
  private closed = false;
  /** Read-only mode (maintenance): changes answer 503 E0000010. */
  readOnly: boolean;
  api?: OktaApi;
  /** Set when the simulator plays an OAuth service app's authorization server. */
  oauth?: OAuthServer;
  simEndpoints: Record<string, SimEndpoint> = {};

  constructor(
    private readonly opts: SimulatorOptions,
    private readonly clock: Clock,
    readonly faults: Faults,
  ) {
    this.readOnly = opts.readOnly;
    const b = (limit: number | undefined) => new Bucket(limit ?? opts.rateLimit, opts.rateWindowMs);
    this.buckets = {
      factors: b(opts.rateLimit),
      users: b(opts.usersRateLimit),
      groups: b(opts.groupsRateLimit),
      logs: b(opts.logsRateLimit ?? 60),
      oauth: b(opts.oauthRateLimit ?? opts.rateLimit),
      other: b(opts.rateLimit),
    };
    this.dice = seededRandom(opts.seed ^ 0xfa017);
    this.ids = seededRandom(opts.seed ^ 0x1d5);
    this.server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 30_000;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await done;
  }

  resetCounters(): void {
    this.counters = newCounters();
    this.counters.maxConcurrent = this.inFlight;
    for (const b of Object.values(this.buckets)) b.resetStats();
    this.requestLog.length = 0;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const requestId = alphanumeric(this.ids, 24);
    res.setHeader('X-Okta-Request-Id', requestId);
    if (path.startsWith('/__sim/')) {
      this.onSim(req, res, path, new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1)));
      return;
    }

    const method = req.method ?? 'GET';
    this.inFlight++;
    if (this.inFlight > this.counters.maxConcurrent) this.counters.maxConcurrent = this.inFlight;
    res.once('close', () => this.inFlight--);

    const now = this.clock.now();
    const api = this.api!;
    api.store.settle(now);
    if (path === TOKEN_PATH) {
      this.onToken(req, res, method, url, requestId, now);
      return;
    }
    const route = api.match(method, path);
    const routeKey = route?.key ?? `${method} (unknown path)`;
    const ctx: Ctx = { req, res, method, url, routeKey, requestId, rate: undefined, bucket: route?.bucket ?? 'other' };

    if (!this.admit(ctx, this.buckets[route?.bucket ?? 'other'], now)) return;
    const authorization = req.headers.authorization;
    if (this.oauth && OAuthServer.handles(authorization)) {
      this.oauth
        .authenticate({ authorization: authorization!, dpop: req.headers.dpop, method, path, now })
        .then(
          (principal) => this.routed(ctx, route, path, qi, principal),
          (err: unknown) => this.sendError(ctx, err instanceof SimHttpError ? err : errors.internal()),
        );
      return;
    }
    if (!this.authorized(authorization)) {
      this.sendError(ctx, errors.invalidToken());
      return;
    }
    this.routed(ctx, route, path, qi, undefined);
  }

  /** After authentication: route, method, scope, body, then the handler after the latency. */
  private routed(ctx: Ctx, route: RouteMatch | undefined, path: string, qi: number, principal: OAuthPrincipal | undefined): void {
    const { req, method, url } = ctx;
    if (ctx.res.destroyed) return;
    if (!route) {
      this.sendError(ctx, errors.pathNotFound(path));
      return;
    }
    if (!route.handler) {
      this.sendError(ctx, errors.methodNotAllowed(route.allow));
      return;
    }
    const scopeError = principal && this.oauth?.scopeError(principal, route.scope);
    if (scopeError) {
      this.sendError(ctx, scopeError);
      return;
    }
    if (this.readOnly && (method === 'POST' || method === 'PUT' || method === 'DELETE')) {
      req.resume();
      this.sendError(ctx, errors.readOnly());
      return;
    }
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
      this.afterLatency(() => this.run(ctx, route, url, qi, ''));
      return;
    }
    readBody(req, (text) => {
      if (text === undefined) this.sendError(ctx, errors.tooLarge());
      else this.afterLatency(() => this.run(ctx, route, url, qi, text));
    });
  }

  /** POST /oauth2/v1/token: concurrency limit, the oauth bucket, then the authorization server. */
  private onToken(req: IncomingMessage, res: ServerResponse, method: string, url: string, requestId: string, now: number): void {
    const ctx: Ctx = { req, res, method, url, routeKey: `${method} ${TOKEN_PATH}`, requestId, rate: undefined, bucket: 'oauth' };
    if (!this.admit(ctx, this.buckets.oauth, now)) return;
    if (method !== 'POST') {
      this.sendError(ctx, errors.methodNotAllowed(['POST']));
      return;
    }
    const oauth = this.oauth;
    if (!oauth) {
      req.resume();
      this.send(ctx, {
        status: 401,
        body: { error: 'invalid_client', error_description: 'No OAuth 2.0 service app is configured (start the simulator with --oauth-client-id and --oauth-public-key).' },
      });
      return;
    }
    readBody(req, (body) => {
      if (body === undefined) {
        this.send(ctx, { status: 413, body: { error: 'invalid_request', error_description: 'The request body is too large.' } });
        return;
      }
      this.afterLatency(() => {
        oauth
          .token({ contentType: req.headers['content-type'], body, dpop: req.headers.dpop, now: this.clock.now() })
          .then(
            (answer) => this.send(ctx, answer),
            () => this.sendError(ctx, errors.internal()),
          );
      });
    });
  }

  private authorized(header: string | undefined): boolean {
    if (!header) return false;
    const m = /^SSWS\s+(\S+)\s*$/.exec(header);
    if (!m) return false;
    return this.opts.token === undefined || m[1] === this.opts.token;
  }

  private afterLatency(fn: () => void): void {
    const l = this.faults.current.latencyMs;
    const ms = Array.isArray(l) ? between(this.dice(), l[0], l[1]) : l;
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private run(ctx: Ctx, route: RouteMatch, url: string, qi: number, text: string): void {
    if (ctx.res.destroyed) return;
    const errorRate = this.faults.current.errorRate;
    if (errorRate > 0 && this.dice() < errorRate) {
      this.counters.injectedErrors++;
      this.sendError(ctx, this.dice() < 0.5 ? errors.internal() : errors.unavailable());
      return;
    }
    const now = this.clock.now();
    const api = this.api!;
    api.store.settle(now);
    let answer: ApiAnswer;
    try {
      const body = this.readBody(ctx, route, text);
      answer = route.handler!({ method: ctx.method, params: route.params, query: new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1)), body, now });
    } catch (err) {
      if (err instanceof SimHttpError) {
        if (err.status === 429) {
          this.counters.rateLimited++;
          this.counters.rateLimitedBy.resource++;
        }
        this.maybeReset(ctx) || this.sendError(ctx, err);
        return;
      }
      const e = new SimHttpError(500, 'E0000009', 'Internal Server Error', [(err as Error)?.message ?? String(err)]);
      this.sendError(ctx, e);
      return;
    }
    if (this.maybeReset(ctx)) return;
    this.send(ctx, answer);
  }

  /**
   * The request's JSON body. With strictBodies: a body under another Content-Type is 415,
   * malformed JSON and properties the spec does not define for the operation are 400 E0000003.
   */
  private readBody(ctx: Ctx, route: RouteMatch, text: string): unknown {
    const strict = this.opts.strictBodies;
    if (!text.trim()) return undefined;
    if (strict) {
      const ct = ctx.req.headers['content-type'];
      const media = (ct ?? '').split(';')[0]!.trim().toLowerCase();
      if (media !== 'application/json') throw errors.unsupportedMediaType(ct);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      if (strict) throw errors.malformedBody([`The request body is not valid JSON: ${(err as Error).message}`]);
      throw errors.badBody(`The request body is not valid JSON: ${(err as Error).message}`);
    }
    if (strict && route.operation) {
      const extra = undefinedProperties(route.operation, body, route.factorType);
      if (extra.length) throw errors.malformedBody(extra.map((p) => `Unrecognized field "${p}": the spec does not define it for this operation.`));
    }
    return body;
  }

  /** The request was processed; with probability resetRate its answer is replaced by a dead connection. */
  private maybeReset(ctx: Ctx): boolean {
    const resetRate = this.faults.current.resetRate;
    if (!(resetRate > 0 && this.dice() < resetRate)) return false;
    this.counters.total++;
    this.counters.connectionResets++;
    this.counters.byRoute[ctx.routeKey] = (this.counters.byRoute[ctx.routeKey] ?? 0) + 1;
    this.record(ctx, 0);
    ctx.req.socket.destroy();
    return true;
  }

  /**
   * Okta's two gates before any work: the org's concurrency limit (429 with
   * X-Rate-Limit-Limit: 0) and the route's bucket. Answers the 429 itself; true when admitted.
   */
  private admit(ctx: Ctx, bucket: Bucket, now: number): boolean {
    if (this.inFlight > this.opts.concurrencyLimit) {
      this.counters.rateLimited++;
      this.counters.rateLimitedBy.concurrency++;
      ctx.rate = concurrencyHeaders(now);
      this.sendError(ctx, errors.rateLimited());
      return false;
    }
    if (ctx.bucket === 'factors' && this.faults.takeAbsurdReset()) {
      // A broken gateway's answer: an empty budget that "resets" ten years from now. Nothing is charged.
      this.counters.rateLimited++;
      this.counters.rateLimitedBy.bucket++;
      ctx.rate = { 'X-Rate-Limit-Limit': String(bucket.state.limit), 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': Faults.absurdResetAt(now) };
      this.sendError(ctx, errors.rateLimited());
      return false;
    }
    const admitted = bucket.take(now);
    ctx.rate = bucket.headers();
    if (!admitted) {
      this.counters.rateLimited++;
      this.counters.rateLimitedBy.bucket++;
      this.sendError(ctx, errors.rateLimited());
      return false;
    }
    return true;
  }

  private sendError(ctx: Ctx, err: SimHttpError): void {
    const body = errorBody(err, this.ids);
    if (this.faults.current.echoToken) {
      // A misbehaving proxy's summary: the start of the caller's credential, in clear.
      const auth = ctx.req.headers.authorization;
      const credential = auth?.trim().split(/\s+/).slice(-1)[0];
      if (credential) body.errorSummary = `${body.errorSummary} (Authorization: ${credential.slice(0, 16)})`;
    }
    this.send(ctx, { status: err.status, body, headers: err.headers });
  }

  /** The X-Rate-Limit-* headers as sent: each twice with duplicateRateLimitHeaders, the second more generous. */
  private rateHeaders(rate: RateHeaders | undefined): Record<string, string | string[]> {
    if (!rate) return {};
    if (!this.faults.current.duplicateRateLimitHeaders) return { ...rate };
    const limit = Number(rate['X-Rate-Limit-Limit']);
    const extra = Math.max(1, limit);
    const earlier = Math.max(1, Math.ceil(this.opts.rateWindowMs / 2000));
    return {
      'X-Rate-Limit-Limit': [rate['X-Rate-Limit-Limit'], String(limit + extra)],
      'X-Rate-Limit-Remaining': [rate['X-Rate-Limit-Remaining'], String(Number(rate['X-Rate-Limit-Remaining']) + extra)],
      'X-Rate-Limit-Reset': [rate['X-Rate-Limit-Reset'], String(Number(rate['X-Rate-Limit-Reset']) - earlier)],
    };
  }

  private send(ctx: Ctx, answer: ApiAnswer): void {
    const { res } = ctx;
    if (res.destroyed || res.headersSent) return;
    const c = this.counters;
    c.total++;
    const s = String(answer.status);
    c.byStatus[s] = (c.byStatus[s] ?? 0) + 1;
    c.byRoute[ctx.routeKey] = (c.byRoute[ctx.routeKey] ?? 0) + 1;
    this.record(ctx, answer.status);
    const headers: Record<string, string | string[] | number> = { Date: new Date(this.clock.now()).toUTCString(), ...this.rateHeaders(ctx.rate), ...answer.headers };
    let payload: string | Buffer | undefined;
    if (answer.raw) {
      headers['Content-Type'] = answer.raw.contentType;
      payload = answer.raw.data;
    } else if (answer.body !== undefined && answer.status !== 204) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(answer.body);
      const pad = ctx.bucket === 'factors' ? this.faults.takeHugeBody(this.dice) : undefined;
      if (pad !== undefined) payload = padded(payload, pad);
    }
    if (payload !== undefined) headers['Content-Length'] = Buffer.byteLength(payload);
    res.writeHead(answer.status, headers);
    res.end(payload);
  }

  private record(ctx: Ctx, status: number): void {
    const size = this.opts.requestLogSize;
    if (size <= 0) return;
    const h = ctx.req.headers;
    const rec: SimRequestRecord = {
      at: iso(this.clock.now()),
      method: ctx.method,
      path: ctx.url,
      status,
      requestId: ctx.requestId,
      authorized: h.authorization !== undefined,
    };
    const rf = h['x-okta-retry-for'];
    const rc = h['x-okta-retry-count'];
    if (typeof rf === 'string') rec.retryFor = rf;
    if (typeof rc === 'string') rec.retryCount = rc;
    if (this.requestLog.length >= size) this.requestLog.shift();
    this.requestLog.push(rec);
  }

  private onSim(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    const name = path.slice('/__sim/'.length);
    const endpoint = this.simEndpoints[name];
    const reply = (status: number, value: unknown): void => {
      const body = JSON.stringify(value);
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    readBody(req, (text) => {
      if (!endpoint) {
        reply(404, { error: `unknown inspection endpoint ${path}`, endpoints: Object.keys(this.simEndpoints).map((k) => `/__sim/${k}`) });
        return;
      }
      let body: unknown;
      if (text === undefined) {
        reply(413, { error: 'the request body is larger than 1 MiB' });
        return;
      }
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch (err) {
          reply(400, { error: `expected a JSON body, got ${JSON.stringify(text.slice(0, 80))} (${(err as Error).message})` });
          return;
        }
      }
      const answer = endpoint(req.method ?? 'GET', query, body);
      reply(answer?.status ?? 404, answer?.body ?? {});
    });
  }
}

/** Reads a request body as text; `undefined` when it was larger than MAX_BODY (the rest is drained, not kept). */
function readBody(req: IncomingMessage, done: (text: string | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('error', () => undefined);
  req.on('end', () => done(size > MAX_BODY ? undefined : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
}

/** The JSON text followed by whitespace up to `bytes` (still valid JSON, the same value). */
function padded(json: string, bytes: number): Buffer {
  const len = Buffer.byteLength(json);
  if (bytes <= len) return Buffer.from(json);
  const out = Buffer.alloc(bytes, 0x20);
  out.write(json, 0, 'utf8');
  return out;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: string;
  routeKey: string;
  requestId: string;
  rate: RateHeaders | undefined;
  /** The route's bucket (factor answers are the ones faults pad). */
  bucket: BucketName;
}
