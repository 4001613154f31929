/**
 * The Okta simulator: a real HTTP server that answers the Okta paths the runner uses,
 * in today's dialect or the seed document's (and the other shapes real orgs answer
 * in), with Okta's rate limits, faults, and users who do or don't scan their QR code,
 * set up other factors, sign in, or cannot be changed. Tests and the demo start it
 * with startSimulator(); `bulk-enroll simulator` starts it from the command line.
 *
 * It never imports from src/okta (the client): the two are independent readings of
 * Okta's API, so a misreading in one shows up as a failing test.
 */
import { ConfigError } from '../errors.js';
import { SimClock, iso, systemClock } from './clock.js';
import { buildDirectory, generateUsers, loadGroupsCsv, loadUsersCsv, type SimUser } from './directory.js';
import { FactorStore, type ActivateCall, type Delivery } from './factors.js';
import { OktaApi } from './api.js';
import { resolveOptions, type SimulatorOptions } from './options.js';
import { seededRandom } from './random.js';
import { SimServer, type SimEndpoint, type SimRequestRecord } from './server.js';
import { SystemLog, type LogEvent } from './system-log.js';
import type { BucketState } from './rate-limits.js';
import { OAuthServer, type OAuthStats } from './oauth.js';
import { Faults, type FaultSnapshot } from './faults.js';
import { Inspection, type SimFactorRecord, type SimUserFactors } from './inspection.js';

export type { SimulatorOptions, Dialect, OnDuplicate, ListShape, RestartShape, PollLink, LogTargets } from './options.js';
export { defaultOptions, resolveOptions } from './options.js';
export type { Clock } from './clock.js';
export type { ActivateCall, Delivery } from './factors.js';
export type { LogEvent } from './system-log.js';
export type { SimRequestRecord } from './server.js';
export type { FaultSettings, FaultSnapshot } from './faults.js';
export type { SimFactorRecord, SimUserFactors } from './inspection.js';
export { parseActivation } from './directory.js';
export { USER_STATUSES, FACTOR_FROZEN_STATUSES } from './traits.js';
export { FACTOR_TYPES } from './factor-types.js';
export { ALL_SCOPES as OAUTH_SCOPES, type OAuthStats } from './oauth.js';

export interface SimStats {
  requests: { total: number; byStatus: Record<string, number>; byRoute: Record<string, number> };
  rateLimited: number;
  maxConcurrent: number;
  factors: { total: number; byStatus: Record<string, number> };
  /** Users holding two or more (non-deleted) factors of the same factorType. */
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
  /** Read-only mode is on. */
  readOnly: boolean;
  /** The faults in force and what is left of the counted ones. */
  faults: FaultSnapshot;
}

export interface SimUserRecord {
  id: string;
  login: string;
  email: string;
  phone?: string;
  groups: string[];
  status: string;
  timezone?: string;
}

/** The simulator's notion of now: the org's clock (real or injected time plus clockOffsetMs). */
export interface SimClockReading {
  now: string;
  nowMs: number;
  offsetMs: number;
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
  /** Per user: every factor with its status, activation result and attempts (users without factors only with `all`). */
  userFactors(opts?: { all?: boolean; userId?: string }): SimUserFactors[];
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
  /** Turns read-only mode on or off (as POST /__sim/read-only does). */
  setReadOnly(on: boolean): void;
  /** Changes faults at run time (as POST /__sim/faults does); throws ConfigError listing every problem. */
  setFaults(patch: Record<string, unknown>): FaultSnapshot;
  clock(): SimClockReading;
}

function formatHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSimulator(partial: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const opts = resolveOptions(partial);
  const clock = new SimClock(opts.clock ?? systemClock);
  const faults = new Faults(opts, clock);
  const now = clock.now();

  let users: SimUser[];
  if (opts.usersCsv) users = loadUsersCsv(opts.usersCsv, now);
  else users = generateUsers(opts.users ?? 100, opts.seed, now);
  const directory = buildDirectory(users, opts.groupsCsv ? loadGroupsCsv(opts.groupsCsv) : [], now);

  const log = new SystemLog({ debugData: opts.logDebugData, targets: opts.logTargets });
  const store = new FactorStore(
    { seed: opts.seed, activateRatio: opts.activateRatio, activateAfterMs: opts.activateAfterMs, activationTtlMs: opts.activationTtlMs, startedAt: now },
    seededRandom(opts.seed ^ 0xfac7),
    (id) => directory.get(id),
    log,
  );
  store.populate(directory.users());

  const sim = new SimServer(opts, clock, faults);
  const address = await sim.listen();
  const url = `http://${formatHost(opts.host)}:${address.port}`;
  const linkBase = opts.linkBase ?? url;
  const api = new OktaApi(opts, linkBase, directory, store, log);
  sim.api = api;
  const inspection = new Inspection(store, directory, api.render);
  const oauth =
    opts.oauthClientId !== undefined && opts.oauthPublicKey !== undefined
      ? new OAuthServer(
          { clientId: opts.oauthClientId, publicKey: opts.oauthPublicKey, scopes: opts.oauthScopes, tokenTtlMs: opts.oauthTokenTtlMs, dpop: opts.oauthDpop },
          () => [...new Set([url, linkBase])],
        )
      : undefined;
  sim.oauth = oauth;

  /** Everything due by now has happened (scans, sign-ins, …) before anything is reported. */
  const settled = (): number => {
    const t = clock.now();
    store.settle(t);
    return t;
  };
  const factors = (): SimFactorRecord[] => inspection.factors(settled());
  const userFactors = (o: { all?: boolean; userId?: string } = {}): SimUserFactors[] => inspection.userFactors(settled(), o);

  const stats = (): SimStats => {
    const list = factors();
    const byStatus: Record<string, number> = {};
    for (const f of list) byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;
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
      duplicateEnrollments: inspection.duplicateEnrollments(),
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
      readOnly: sim.readOnly,
      faults: faults.snapshot(),
    };
  };

  const usersList = (): SimUserRecord[] =>
    [...directory.users()].map((u) => ({
      id: u.id,
      login: u.login,
      email: u.email,
      ...(u.phone ? { phone: u.phone } : {}),
      groups: u.groups,
      status: u.status,
      ...(u.timezone ? { timezone: u.timezone } : {}),
    }));
  const resetStats = (): void => {
    sim.resetCounters();
    store.enrollCalls = 0;
    oauth?.resetStats();
  };
  const revokeTokens = () => oauth?.revokeTokens() ?? 0;
  const rotateDpopNonces = () => oauth?.rotateNonces();
  const eventsList = (): LogEvent[] => {
    settled();
    return log.all();
  };
  const clockReading = (): SimClockReading => {
    const t = clock.now();
    return { now: iso(t), nowMs: t, offsetMs: clock.offsetMs };
  };
  const setFaults = (patch: Record<string, unknown>): FaultSnapshot => {
    const problems = faults.update(patch);
    if (problems.length) throw new ConfigError(problems);
    return faults.snapshot();
  };

  const get = (fn: (query: URLSearchParams) => unknown): SimEndpoint => (method, query) =>
    method === 'GET' ? { status: 200, body: fn(query) } : { status: 405, body: { error: 'expected GET' } };
  const post = (fn: (body: unknown) => { status: number; body?: unknown }): SimEndpoint => (method, _query, body) =>
    method === 'POST' ? fn(body) : { status: 405, body: { error: 'expected POST' } };
  sim.simEndpoints = {
    stats: get(stats),
    factors: get((q) => inspection.factors(settled(), q.get('userId') ?? undefined)),
    'user-factors': get((q) => userFactors({ all: q.get('all') === 'true', ...(q.get('userId') ? { userId: q.get('userId')! } : {}) })),
    deliveries: get(() => store.deliveries),
    activations: get(() => store.activateCalls),
    events: get(eventsList),
    users: get(usersList),
    requests: get(() => sim.requestLog),
    clock: get(clockReading),
    'oauth-revoke': post(() => ({ status: 200, body: { revoked: revokeTokens() } })),
    'oauth-rotate-nonce': post(() => {
      rotateDpopNonces();
      return { status: 200, body: { rotated: oauth !== undefined && opts.oauthDpop } };
    }),
    'reset-stats': post(() => {
      resetStats();
      return { status: 200, body: stats() };
    }),
    'read-only': (method, _query, body) => {
      if (method === 'GET') return { status: 200, body: { on: sim.readOnly } };
      if (method !== 'POST') return { status: 405, body: { error: 'expected GET or POST' } };
      const on = (body as { on?: unknown } | undefined)?.on;
      if (typeof on !== 'boolean') return { status: 400, body: { error: `expected {"on": true} or {"on": false}, got ${JSON.stringify(body ?? null)}` } };
      sim.readOnly = on;
      return { status: 200, body: { on } };
    },
    faults: (method, _query, body) => {
      if (method === 'GET') return { status: 200, body: faults.snapshot() };
      if (method !== 'POST') return { status: 405, body: { error: 'expected GET or POST' } };
      const problems = faults.update(body ?? {});
      return problems.length ? { status: 400, body: { error: 'invalid faults; nothing was changed', problems } } : { status: 200, body: faults.snapshot() };
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
    userFactors,
    deliveries: () => [...store.deliveries],
    activateCalls: () => [...store.activateCalls],
    events: () => [...eventsList()],
    users: usersList,
    requests: () => [...sim.requestLog],
    resetStats,
    revokeTokens,
    rotateDpopNonces,
    setReadOnly: (on) => {
      sim.readOnly = on;
    },
    setFaults,
    clock: clockReading,
  };
}
