/**
 * The Okta simulator: a real HTTP server that answers the Okta paths the runner uses,
 * in today's dialect or the seed document's, with Okta's rate limits, faults and
 * users who do or don't scan their QR code. Tests and the demo start it with
 * startSimulator(); `bulk-enroll simulator` starts it from the command line.
 *
 * It never imports from src/okta (the client): the two are independent readings of
 * Okta's API, so a misreading in one shows up as a failing test.
 */
import { systemClock } from './clock.js';
import { buildDirectory, generateUsers, loadGroupsCsv, loadUsersCsv, type SimUser } from './directory.js';
import { FactorStore, type ActivateCall, type Delivery } from './factors.js';
import { OktaApi } from './api.js';
import { resolveOptions, type SimulatorOptions } from './options.js';
import { seededRandom } from './random.js';
import { SimServer, type SimRequestRecord } from './server.js';
import { SystemLog, type LogEvent } from './system-log.js';
import type { BucketState } from './rate-limits.js';
import { OAuthServer, type OAuthStats } from './oauth.js';

export type { SimulatorOptions, Dialect, OnDuplicate } from './options.js';
export { defaultOptions, resolveOptions } from './options.js';
export type { Clock } from './clock.js';
export type { ActivateCall, Delivery } from './factors.js';
export type { LogEvent } from './system-log.js';
export type { SimRequestRecord } from './server.js';
export { parseActivation } from './directory.js';
export { ALL_SCOPES as OAUTH_SCOPES, type OAuthStats } from './oauth.js';

export interface SimFactorRecord {
  userId: string;
  factorId: string;
  factorType: string;
  provider: string;
  /** As the dialect reports it: PENDING_ACTIVATION, ACTIVE (seed: ACTIVATED), EXPIRED. */
  status: string;
  created: string;
  lastUpdated: string;
  /** Activation attempts started (push). */
  attempts?: number;
}

export interface SimStats {
  requests: { total: number; byStatus: Record<string, number>; byRoute: Record<string, number> };
  rateLimited: number;
  maxConcurrent: number;
  factors: { total: number; byStatus: Record<string, number> };
  /** Users holding more than one factor of the same factorType. */
  duplicateEnrollments: number;
  /** Enroll POSTs that created a factor. */
  enrollCalls: number;
  // extras
  rateLimitedBy: { bucket: number; concurrency: number; resource: number };
  connectionResets: number;
  injectedErrors: number;
  inFlight: number;
  byBucket: Record<string, Omit<BucketState, 'windowStart' | 'windowEnd'> & { remaining: number; resetAt: string | null }>;
  deliveries: number;
  activateCalls: number;
  events: number;
  users: number;
  dialect: string;
  /** POST /oauth2/v1/token requests (answered, whatever the answer): 0 without OAuth. */
  tokenRequests: number;
  /** The authorization server's counters; undefined when no OAuth app is configured. */
  oauth?: OAuthStats;
}

export interface SimUserRecord {
  id: string;
  login: string;
  email: string;
  phone?: string;
  groups: string[];
}

export interface SimulatorHandle {
  /** http://127.0.0.1:PORT (the address to call; links use linkBase). */
  url: string;
  port: number;
  /** The base written into Location, _links and Link headers. */
  linkBase: string;
  options: SimulatorOptions;
  /** Stops listening, destroys keep-alive sockets and clears every timer. */
  close(): Promise<void>;
  stats(): SimStats;
  factors(): SimFactorRecord[];
  deliveries(): Delivery[];
  activateCalls(): ActivateCall[];
  /** System Log events, in insertion order. */
  events(): LogEvent[];
  users(): SimUserRecord[];
  /** The most recent requests (up to requestLogSize). */
  requests(): SimRequestRecord[];
  /** Zeroes request counters, rate-limited counts, maxConcurrent, enrollCalls, the request log, OAuth counters. */
  resetStats(): void;
  /** OAuth: every issued access token stops working (the next API call with one gets 401). Returns how many. */
  revokeTokens(): number;
  /** OAuth + DPoP: new nonces; proofs with the old ones get use_dpop_nonce. */
  rotateDpopNonces(): void;
}

function formatHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSimulator(partial: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const opts = resolveOptions(partial);
  const clock = opts.clock ?? systemClock;
  const now = clock.now();

  let users: SimUser[];
  if (opts.usersCsv) users = loadUsersCsv(opts.usersCsv, now);
  else users = generateUsers(opts.users ?? 100, opts.seed, now);
  const directory = buildDirectory(users, opts.groupsCsv ? loadGroupsCsv(opts.groupsCsv) : [], now);

  const log = new SystemLog();
  const store = new FactorStore(
    { seed: opts.seed, activateRatio: opts.activateRatio, activateAfterMs: opts.activateAfterMs, activationTtlMs: opts.activationTtlMs },
    seededRandom(opts.seed ^ 0xfac7),
    (id) => directory.get(id),
    log,
  );

  const sim = new SimServer(opts, clock);
  const address = await sim.listen();
  const url = `http://${formatHost(opts.host)}:${address.port}`;
  const linkBase = opts.linkBase ?? url;
  const api = new OktaApi(opts, linkBase, directory, store, log);
  sim.api = api;
  const oauth =
    opts.oauthClientId !== undefined && opts.oauthPublicKey !== undefined
      ? new OAuthServer(
          { clientId: opts.oauthClientId, publicKey: opts.oauthPublicKey, scopes: opts.oauthScopes, tokenTtlMs: opts.oauthTokenTtlMs, dpop: opts.oauthDpop },
          () => [...new Set([url, linkBase])],
        )
      : undefined;
  sim.oauth = oauth;

  const factors = (): SimFactorRecord[] => {
    const t = clock.now();
    store.settle(t);
    return [...store.all()].map((f) => ({
      userId: f.userId,
      factorId: f.id,
      factorType: f.factorType,
      provider: f.provider,
      status: api.render.status(f, store.isExpired(f, t)),
      created: new Date(f.created).toISOString(),
      lastUpdated: new Date(store.isExpired(f, t) && f.attempt ? Math.max(f.lastUpdated, f.attempt.expiresAt) : f.lastUpdated).toISOString(),
      ...(f.attempt ? { attempts: f.attempt.n } : {}),
    }));
  };

  const stats = (): SimStats => {
    const list = factors();
    const byStatus: Record<string, number> = {};
    for (const f of list) byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;
    const perUserType = new Map<string, Map<string, number>>();
    for (const f of list) {
      let m = perUserType.get(f.userId);
      if (!m) perUserType.set(f.userId, (m = new Map()));
      m.set(f.factorType, (m.get(f.factorType) ?? 0) + 1);
    }
    let duplicateEnrollments = 0;
    for (const m of perUserType.values()) if ([...m.values()].some((n) => n > 1)) duplicateEnrollments++;
    const c = sim.counters;
    const byBucket: SimStats['byBucket'] = {};
    for (const [name, b] of Object.entries(sim.buckets)) {
      const { windowStart: _ws, windowEnd, ...rest } = b.state;
      byBucket[name] = { ...rest, remaining: Math.max(0, b.state.limit - b.state.used), resetAt: windowEnd ? new Date(windowEnd).toISOString() : null };
    }
    return {
      requests: { total: c.total, byStatus: { ...c.byStatus }, byRoute: { ...c.byRoute } },
      rateLimited: c.rateLimited,
      maxConcurrent: c.maxConcurrent,
      factors: { total: list.length, byStatus },
      duplicateEnrollments,
      enrollCalls: store.enrollCalls,
      rateLimitedBy: { ...c.rateLimitedBy },
      connectionResets: c.connectionResets,
      injectedErrors: c.injectedErrors,
      inFlight: sim.inFlight,
      byBucket,
      deliveries: store.deliveries.length,
      activateCalls: store.activateCalls.length,
      events: log.all().length,
      users: directory.size,
      dialect: opts.dialect,
      tokenRequests: oauth?.stats.tokenRequests ?? c.byRoute['POST /oauth2/v1/token'] ?? 0,
      ...(oauth ? { oauth: oauth.snapshot(clock.now()) } : {}),
    };
  };

  const usersList = (): SimUserRecord[] =>
    [...directory.users()].map((u) => ({ id: u.id, login: u.login, email: u.email, ...(u.phone ? { phone: u.phone } : {}), groups: u.groups }));
  const resetStats = (): void => {
    sim.resetCounters();
    store.enrollCalls = 0;
    oauth?.resetStats();
  };
  const revokeTokens = () => oauth?.revokeTokens() ?? 0;
  const rotateDpopNonces = () => oauth?.rotateNonces();
  const eventsList = (): LogEvent[] => {
    store.settle(clock.now());
    return log.all();
  };

  const get = (fn: () => unknown) => (method: string) => (method === 'GET' ? { status: 200, body: fn() } : { status: 405, body: { error: 'expected GET' } });
  sim.simEndpoints = {
    stats: get(stats),
    factors: get(factors),
    deliveries: get(() => store.deliveries),
    activations: get(() => store.activateCalls),
    events: get(eventsList),
    users: get(usersList),
    requests: get(() => sim.requestLog),
    'oauth-revoke': (method) => (method === 'POST' ? { status: 200, body: { revoked: revokeTokens() } } : { status: 405, body: { error: 'expected POST' } }),
    'oauth-rotate-nonce': (method) => {
      if (method !== 'POST') return { status: 405, body: { error: 'expected POST' } };
      rotateDpopNonces();
      return { status: 200, body: { rotated: oauth !== undefined && opts.oauthDpop } };
    },
    'reset-stats': (method) => {
      if (method !== 'POST') return { status: 405, body: { error: 'expected POST' } };
      resetStats();
      return { status: 200, body: stats() };
    },
  };

  return {
    url,
    port: address.port,
    linkBase,
    options: opts,
    close: () => sim.close(),
    stats,
    factors,
    deliveries: () => [...store.deliveries],
    activateCalls: () => [...store.activateCalls],
    events: () => [...eventsList()],
    users: usersList,
    requests: () => [...sim.requestLog],
    resetStats,
    revokeTokens,
    rotateDpopNonces,
  };
}
