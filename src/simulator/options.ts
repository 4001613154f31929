/**
 * The simulator's options: defaults (Okta's real numbers, in milliseconds so tests can
 * scale time down; today's answer shapes), and one validation pass that lists every
 * problem at once.
 */
import { ConfigError } from '../errors.js';
import type { Clock } from './clock.js';
import { defaultFaults, faultProblems, type FaultSettings } from './faults.js';
import { FACTOR_TYPES, isFactorType } from './factor-types.js';
import { ALL_SCOPES, readPublicKey } from './oauth.js';
import { isInt, isRatio, problemList } from './validate.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export type Dialect = 'okta' | 'seed';
export type OnDuplicate = 'reject' | 'replace' | 'allow';
/** How GET …/factors and GET …/factors/{id} show a push factor that is not active. */
export type ListShape = 'expired' | 'pending-next' | 'pending-activate';
/** What POST …/lifecycle/activate answers for a push factor. */
export type RestartShape = 'factor' | 'activation';
/** Where the enroll answer's `_links.poll` points. */
export type PollLink = 'poll' | 'activate';
/** The `target` list of user.mfa.factor.activate events. */
export type LogTargets = 'user' | 'user+enrollment';

export interface SimulatorOptions extends FaultSettings {
  /** `okta`: today's Management API (200, _embedded.activation, POST poll). `seed`: the seed document (301, GET poll). */
  dialect: Dialect;
  port: number;
  host: string;
  /** Accepted API token (`Authorization: SSWS <token>`). Unset: any non-empty token. */
  token?: string;
  /** A second enrollment of a factor type the user already has. */
  onDuplicate: OnDuplicate;
  /** Budget per window of the factors bucket (and of every bucket without its own budget). */
  rateLimit: number;
  rateWindowMs: number;
  /** Budget of `/api/v1/users/{idOrLogin}` lookups. Default: rateLimit. */
  usersRateLimit?: number;
  /** Budget of `/api/v1/groups…`. Default: rateLimit. */
  groupsRateLimit?: number;
  /** Budget of `/api/v1/logs`. Default: 60. */
  logsRateLimit?: number;
  /** Simultaneous requests answered; beyond, 429 with X-Rate-Limit-Limit: 0. */
  concurrencyLimit: number;
  /** Directory file: id,login[,activation][,group][,email][,phone]. */
  usersCsv?: string;
  /** Groups file: id,name. */
  groupsCsv?: string;
  /** Number of generated users when no usersCsv is given. Default 100. */
  users?: number;
  /** Share of users without an `activation` column who scan their QR code. */
  activateRatio: number;
  /** [min, max] delay after an activation attempt starts at which such a user scans. */
  activateAfterMs: [number, number];
  /** Lifetime of one push activation (Okta: 10 minutes). */
  activationTtlMs: number;
  /** lifecycle/activate calls allowed per factor per window (Okta: 5 per 5 minutes). */
  activationAttemptLimit: number;
  activationAttemptWindowMs: number;
  /** One activation SMS per phone number per interval (Okta: 30 s). */
  smsIntervalMs: number;
  seed: number;
  /** Base URL written into Location, _links and Link headers. Default: the simulator's own origin. */
  linkBase?: string;
  /** How many recent requests handle.requests() keeps. */
  requestLogSize: number;
  /** Time source (tests may inject one). Default Date.now. */
  clock?: Clock;
  /** OAuth 2.0 service app: its client id. With oauthPublicKey, enables POST /oauth2/v1/token. */
  oauthClientId?: string;
  /** The service app's public key, PEM or JWK JSON text (a private key works too: its public half is used). */
  oauthPublicKey?: string;
  /** Scopes granted to the app; a token gets the requested ones among these. Default: the four the runner uses. */
  oauthScopes: string[];
  /** Lifetime of an access token (Okta: one hour). */
  oauthTokenTtlMs: number;
  /** Require DPoP proofs (and nonces) on token and API requests, as new Okta API service apps do. */
  oauthDpop: boolean;
  /** Budget per window of POST /oauth2/v1/token. Default: rateLimit. */
  oauthRateLimit?: number;
  /**
   * `expired` (today): a push whose activation expired is listed EXPIRED with an activate link,
   * a waiting one PENDING_ACTIVATION with a poll link. `pending-next` / `pending-activate`: every
   * push that is not active is listed PENDING_ACTIVATION with `_links.next` (name activate) /
   * `_links.activate`, no poll link, no _embedded; expiry shows only when polling or activating.
   */
  listShape: ListShape;
  /** `factor` (today): activate answers the factor with _embedded.activation. `activation`: the Push Factor Activation object alone. */
  restartShape: RestartShape;
  /** `poll` (the spec): the enroll answer's poll link is …/lifecycle/activate/poll. `activate`: …/lifecycle/activate itself. */
  pollLink: PollLink;
  /** Activation events carry debugContext.debugData.factor (the factorType). */
  logDebugData: boolean;
  /** Activation events' targets: the User and an AuthenticatorEnrollment (the factor), or the User only. */
  logTargets: LogTargets;
  /** Factor types the org's Multifactor policy refuses: their enrolls answer 400 E0000001 and create nothing. */
  refuseFactorTypes: string[];
  /** Read-only mode: POST/PUT/DELETE under /api/v1 answer 503 E0000010 (changeable at run time). */
  readOnly: boolean;
  /** Bodies with properties the spec does not define answer 400 E0000003; JSON without Content-Type application/json 415. */
  strictBodies: boolean;
  /** Identity Engine's Okta Verify bundle: enrolling push also enrolls totp and signed_nonce; deleting one deletes all. */
  oieBundle: boolean;
}

export function defaultOptions(): SimulatorOptions {
  return {
    ...defaultFaults(),
    dialect: 'okta',
    port: 0,
    host: '127.0.0.1',
    onDuplicate: 'reject',
    rateLimit: 600,
    rateWindowMs: 1 * MINUTE,
    concurrencyLimit: 75,
    activateRatio: 0.8,
    activateAfterMs: [2 * SECOND, 30 * SECOND],
    activationTtlMs: 10 * MINUTE,
    activationAttemptLimit: 5,
    activationAttemptWindowMs: 5 * MINUTE,
    smsIntervalMs: 30 * SECOND,
    seed: 1,
    requestLogSize: 1000,
    oauthScopes: [...ALL_SCOPES],
    oauthTokenTtlMs: 60 * MINUTE,
    oauthDpop: false,
    listShape: 'expired',
    restartShape: 'factor',
    pollLink: 'poll',
    logDebugData: true,
    logTargets: 'user+enrollment',
    refuseFactorTypes: [],
    readOnly: false,
    strictBodies: false,
    oieBundle: false,
  };
}

/** Defaults, then `partial`; throws ConfigError listing every invalid option. */
export function resolveOptions(partial: Partial<SimulatorOptions> = {}): SimulatorOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const o: SimulatorOptions = { ...defaultOptions(), ...defined };
  const { problems, need } = problemList();
  need(o.dialect === 'okta' || o.dialect === 'seed', 'dialect', '"okta" or "seed"', o.dialect);
  need(['reject', 'replace', 'allow'].includes(o.onDuplicate), 'onDuplicate', '"reject", "replace" or "allow"', o.onDuplicate);
  need(isInt(o.port, 0) && o.port <= 65535, 'port', 'an integer from 0 to 65535', o.port);
  need(typeof o.host === 'string' && o.host.length > 0, 'host', 'a host name or address', o.host);
  need(o.token === undefined || (typeof o.token === 'string' && o.token.length > 0), 'token', 'a non-empty string', o.token);
  need(isInt(o.rateLimit, 1), 'rateLimit', 'an integer >= 1', o.rateLimit);
  need(isInt(o.rateWindowMs, 1), 'rateWindowMs', 'an integer >= 1', o.rateWindowMs);
  for (const k of ['usersRateLimit', 'groupsRateLimit', 'logsRateLimit'] as const) {
    need(o[k] === undefined || isInt(o[k], 1), k, 'an integer >= 1', o[k]);
  }
  need(isInt(o.concurrencyLimit, 1), 'concurrencyLimit', 'an integer >= 1', o.concurrencyLimit);
  need(o.users === undefined || isInt(o.users, 0), 'users', 'an integer >= 0', o.users);
  need(isRatio(o.activateRatio), 'activateRatio', 'a number from 0 to 1', o.activateRatio);
  const [amin, amax] = Array.isArray(o.activateAfterMs) ? o.activateAfterMs : [NaN, NaN];
  need(isInt(amin, 0) && isInt(amax, 0) && (amin as number) <= (amax as number), 'activateAfterMs', 'a range [min, max] of integers with 0 <= min <= max', o.activateAfterMs);
  need(isInt(o.activationTtlMs, 1), 'activationTtlMs', 'an integer >= 1', o.activationTtlMs);
  need(isInt(o.activationAttemptLimit, 1), 'activationAttemptLimit', 'an integer >= 1', o.activationAttemptLimit);
  need(isInt(o.activationAttemptWindowMs, 1), 'activationAttemptWindowMs', 'an integer >= 1', o.activationAttemptWindowMs);
  need(isInt(o.smsIntervalMs, 0), 'smsIntervalMs', 'an integer >= 0', o.smsIntervalMs);
  problems.push(...faultProblems(o));
  need(isInt(o.seed, 0), 'seed', 'an integer >= 0', o.seed);
  need(isInt(o.requestLogSize, 0), 'requestLogSize', 'an integer >= 0', o.requestLogSize);
  if (o.linkBase !== undefined) {
    let ok = false;
    try {
      const u = new URL(o.linkBase);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && (u.pathname === '/' || u.pathname === '');
    } catch {
      ok = false;
    }
    need(ok, 'linkBase', 'an origin such as http://rain.okta1.com:1802', o.linkBase);
  }
  need(o.oauthClientId === undefined || (typeof o.oauthClientId === 'string' && /^[\x21-\x7E]+$/.test(o.oauthClientId)), 'oauthClientId', 'a client id without spaces', o.oauthClientId);
  if ((o.oauthClientId === undefined) !== (o.oauthPublicKey === undefined)) {
    problems.push(`Expected \`oauthClientId\` and \`oauthPublicKey\` together, got only ${o.oauthClientId === undefined ? '`oauthPublicKey`' : '`oauthClientId`'}`);
  }
  if (o.oauthPublicKey !== undefined) {
    try {
      readPublicKey(o.oauthPublicKey);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  need(
    Array.isArray(o.oauthScopes) && o.oauthScopes.length > 0 && o.oauthScopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)),
    'oauthScopes',
    'a non-empty list of scope names',
    o.oauthScopes,
  );
  need(isInt(o.oauthTokenTtlMs, 1), 'oauthTokenTtlMs', 'an integer >= 1', o.oauthTokenTtlMs);
  need(typeof o.oauthDpop === 'boolean', 'oauthDpop', 'true or false', o.oauthDpop);
  need(!o.oauthDpop || o.oauthClientId !== undefined, 'oauthDpop', 'set only with oauthClientId and oauthPublicKey', o.oauthDpop);
  need(o.oauthRateLimit === undefined || isInt(o.oauthRateLimit, 1), 'oauthRateLimit', 'an integer >= 1', o.oauthRateLimit);
  need(['expired', 'pending-next', 'pending-activate'].includes(o.listShape), 'listShape', '"expired", "pending-next" or "pending-activate"', o.listShape);
  need(['factor', 'activation'].includes(o.restartShape), 'restartShape', '"factor" or "activation"', o.restartShape);
  need(['poll', 'activate'].includes(o.pollLink), 'pollLink', '"poll" or "activate"', o.pollLink);
  if (o.dialect === 'seed') {
    // The seed document polls by GET on the factor: these shapes are today's dialect's.
    need(o.listShape === 'expired', 'listShape', '"expired" with dialect "seed" (the other shapes are the okta dialect\'s)', o.listShape);
    need(o.restartShape === 'factor', 'restartShape', '"factor" with dialect "seed" (the other shape is the okta dialect\'s)', o.restartShape);
    need(o.pollLink === 'poll', 'pollLink', '"poll" with dialect "seed" (the other link is the okta dialect\'s)', o.pollLink);
  }
  need(typeof o.logDebugData === 'boolean', 'logDebugData', 'true or false', o.logDebugData);
  need(o.logTargets === 'user' || o.logTargets === 'user+enrollment', 'logTargets', '"user" or "user+enrollment"', o.logTargets);
  if (!Array.isArray(o.refuseFactorTypes)) {
    need(false, 'refuseFactorTypes', 'a list of factor types', o.refuseFactorTypes);
  } else {
    for (const t of o.refuseFactorTypes) need(isFactorType(t), 'refuseFactorTypes', `factor types among ${FACTOR_TYPES.join(', ')}`, t);
  }
  for (const k of ['readOnly', 'strictBodies', 'oieBundle'] as const) need(typeof o[k] === 'boolean', k, 'true or false', o[k]);
  if (problems.length) throw new ConfigError(problems);
  if (o.linkBase) o.linkBase = o.linkBase.replace(/\/+$/, '');
  return o;
}
