/**
 * Configuration, built in one place: defaults → environment → command-line flags,
 * validated once, every problem listed together (ConfigError). Units are spelled out.
 *
 * Two kinds of settings:
 *  - process settings (Okta credentials, Redis, rate limit, concurrency, logging): given
 *    to `run` / `worker` / `resume`, per process;
 *  - run settings (poll schedule, activation timeout, device fields, retries): given to
 *    `run` / `enqueue`, stored with the run in Redis and honoured by every worker.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { DEFAULT_SCOPES, loadSigningKey } from './okta/auth-oauth.js';
import { parseRedisSettings, redisSettingsOf, type RedisSettings } from './redis/settings.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** OAuth 2.0 service app (client credentials with a private_key_jwt assertion). */
export interface OAuthConfig {
  clientId: string;
  /** PEM or JWK JSON text of the app's private key; held in memory only. */
  privateKey: string;
  /** Where the key was read from (for messages). */
  privateKeyFile: string;
  /** kid of the public key registered on the app. */
  keyId?: string;
  scopes: string[];
  /** Send DPoP proofs (the app requires them: Okta's default for new API service apps). */
  dpop: boolean;
}

export interface ProcessConfig {
  orgUrl: string;
  /** `ssws`: API token; `oauth`: service app. */
  authMode: 'ssws' | 'oauth';
  /** SSWS API token; held in memory only. Empty in oauth mode. */
  token: string;
  /** Set in oauth mode. */
  oauth?: OAuthConfig;
  redisUrl: string;
  /** How to reach Redis: the URL, TLS files, or Sentinel (src/redis/settings.ts). */
  redis: RedisSettings;
  /** Use a Redis whose maxmemory-policy is volatile-* (evicts keys with a TTL); recorded in the manifest. */
  allowEvictionPolicy: boolean;
  /** Namespace for every Redis key (BullMQ queues and run state). */
  prefix: string;
  /** Calls per minute per Okta bucket (factors); an upper bound the limiter starts from. */
  rateLimit: number;
  /** Calls per minute for login lookups (the users bucket). */
  usersRateLimit: number;
  /** Requests in flight per Okta bucket, across all workers. */
  maxConcurrent: number;
  /** Share of the factors budget kept for polls when enrollments also want it. */
  pollShare: number;
  /** Jobs processed at once by one worker process (per queue). */
  concurrency: number;
  requestTimeoutMs: number;
  allowInsecureHttp: boolean;
  logLevel: string;
  logFile?: string;
  /** Where to write activation material (QR codes, activation links) for admins who must hand it over. */
  exportActivation?: string;
  /** How long Redis may be unreachable before the process gives up (exit 1). */
  redisReconnectWindowMs: number;
  /** How long a full Redis (OOM answers) may refuse writes before the process gives up (exit 1). */
  redisOomGraceMs: number;
  /** Rows in flight (fed to the queues, not finished) per run. */
  maxInFlight: number;
  /** BullMQ job lock: a job whose worker died is taken over after about this long. */
  lockDurationMs: number;
  /** How often workers look for stalled jobs. */
  stalledIntervalMs: number;
  /** How often the reconciler looks for rows with neither an outcome nor a live job. */
  reconcileIntervalMs: number;
  /** How often the System Log is read for activation events (runs with detect=log). */
  logIntervalMs: number;
  /** Calls per minute to the System Log (its own, small Okta bucket: about 60 for one token). */
  logsRateLimit: number;
}

export interface RunSettings {
  /** First poll this long after enrollment; null: derived from the activation window. */
  pollInitialMs: number | null;
  pollFactor: number;
  pollMaxMs: number | null;
  /** Used when Okta gives no expiresAt: Okta's 10 minutes plus one. */
  activationTimeoutMs: number;
  /** Send deviceType / profile.deviceName as the seed does. */
  deviceFields: boolean;
  /** Tries for one enrollment or poll on 5xx / network errors (1 + retries). */
  attempts: number;
  /** Base delay of the exponential retry backoff. */
  retryBaseMs: number;
  /** After a push enrollment, have Okta send the user the activation link: email, sms, or none. */
  deliver: 'email' | 'sms' | 'none';
  /** Send the SMS activation link to the row's phoneNumber instead of the phone Okta has for the user. */
  smsToCsvPhone: boolean;
  /**
   * How activations are detected: 'log' reads Okta's System Log for activation events
   * (one call answers for up to 1,000 users) and polls each factor once, after its
   * expiresAt, to confirm; 'poll' polls every factor on the schedule.
   */
  detect: 'log' | 'poll';
}

export const DEFAULT_RUN_SETTINGS: RunSettings = {
  pollInitialMs: null,
  pollFactor: 2,
  pollMaxMs: null,
  activationTimeoutMs: 11 * MINUTE,
  deviceFields: true,
  attempts: 8,
  retryBaseMs: 1 * SECOND,
  deliver: 'email',
  smsToCsvPhone: false,
  detect: 'log',
};

export function defaultProcessConfig(): Omit<ProcessConfig, 'orgUrl' | 'token'> {
  return {
    authMode: 'ssws',
    redisUrl: 'redis://127.0.0.1:6379',
    redis: redisSettingsOf('redis://127.0.0.1:6379'),
    allowEvictionPolicy: false,
    prefix: 'bulk-enroll',
    rateLimit: 300,
    usersRateLimit: 300,
    maxConcurrent: 20,
    pollShare: 0.3,
    concurrency: 50,
    requestTimeoutMs: 15 * SECOND,
    allowInsecureHttp: false,
    logLevel: 'info',
    redisReconnectWindowMs: 60 * SECOND,
    redisOomGraceMs: 5 * SECOND,
    maxInFlight: 5000,
    lockDurationMs: 30 * SECOND,
    stalledIntervalMs: 15 * SECOND,
    reconcileIntervalMs: 10 * SECOND,
    logIntervalMs: 5 * SECOND,
    logsRateLimit: 50,
  };
}

/** Flags as commander hands them over (strings unless parsed). */
export type RawOptions = Record<string, unknown>;

class Problems {
  readonly list: string[] = [];
  add(msg: string): void {
    this.list.push(msg);
  }
  int(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      this.add(`${name}: expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got \`${String(value)}\``);
      return undefined;
    }
    return n;
  }
  num(name: string, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isFinite(n) || n < min || n > max) {
      this.add(`${name}: expected a number from ${min} to ${max}, got \`${String(value)}\``);
      return undefined;
    }
    return n;
  }
  throwIfAny(): void {
    if (this.list.length) throw new ConfigError(this.list);
  }
}

function pick(flags: RawOptions, env: NodeJS.ProcessEnv, flag: string, envName: string): unknown {
  return flags[flag] ?? (env[envName] === undefined || env[envName] === '' ? undefined : env[envName]);
}

const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'];

export interface LoadOptions {
  /** Okta credentials are not needed (status, report, enqueue). */
  needOkta?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Warnings (token file readable by others). */
  warn?: (msg: string) => void;
}

/** Validate an org URL: absolute http(s) origin, no path beyond "/". */
export function checkOrgUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an absolute URL like https://example.okta.com, got \`${value}\``;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `expected https://…, got \`${value}\``;
  if (url.pathname !== '/' && url.pathname !== '') return `expected the org origin only (no path), got \`${value}\``;
  if (url.username || url.password) return 'must not contain credentials';
  return undefined;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

function readPrivateKeyFile(path: string, problems: Problems, warn?: (m: string) => void): string | undefined {
  const name = '--private-key / OKTA_PRIVATE_KEY_FILE';
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      problems.add(`${name}: expected a file holding a PEM or JWK private key, got ${st.isDirectory() ? 'a directory' : 'something that is not a regular file'} at ${path}`);
      return undefined;
    }
    if ((st.mode & 0o077) !== 0 && warn) {
      warn(`--private-key ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const text = readFileSync(path, 'utf8');
    if (!text.trim()) {
      problems.add(`${name}: ${path} is empty`);
      return undefined;
    }
    try {
      loadSigningKey(text);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) problems.add(`${name}: ${path}: ${p.replace(/^privateKey: /, '')}`);
      return undefined;
    }
    return text;
  } catch (err) {
    problems.add(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function loadOAuth(flags: RawOptions, env: NodeJS.ProcessEnv, p: Problems, warn?: (m: string) => void): OAuthConfig | undefined {
  const clientId = (pick(flags, env, 'clientId', 'OKTA_CLIENT_ID') as string | undefined)?.trim();
  if (!clientId) p.add("--client-id / OKTA_CLIENT_ID: required with --auth oauth (the service app's client id, 0oa…)");
  else if (/\s/.test(clientId)) p.add(`--client-id / OKTA_CLIENT_ID: expected a client id without spaces, got \`${clientId}\``);
  const keyFile = pick(flags, env, 'privateKey', 'OKTA_PRIVATE_KEY_FILE') as string | undefined;
  let privateKey: string | undefined;
  if (!keyFile) p.add("--private-key / OKTA_PRIVATE_KEY_FILE: required with --auth oauth (a file holding the app's private key, PEM or JWK)");
  else privateKey = readPrivateKeyFile(keyFile, p, warn);
  const keyIdRaw = pick(flags, env, 'keyId', 'OKTA_KEY_ID') as string | undefined;
  const keyId = keyIdRaw?.trim() || undefined;
  const scopesRaw = pick(flags, env, 'scopes', 'OKTA_SCOPES') as string | undefined;
  const scopes = scopesRaw === undefined ? [...DEFAULT_SCOPES] : [...new Set(scopesRaw.split(/[\s,]+/).filter(Boolean))];
  if (!scopes.length) p.add(`--scopes / OKTA_SCOPES: expected scope names such as ${DEFAULT_SCOPES.join(' ')}, got \`${scopesRaw ?? ''}\``);
  for (const s of scopes) if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) p.add(`--scopes / OKTA_SCOPES: expected scope names without quotes or backslashes, got \`${s}\``);
  let dpop = false;
  if (flags.dpop === true) dpop = true;
  else if (env.OKTA_DPOP !== undefined && env.OKTA_DPOP !== '') {
    const v = env.OKTA_DPOP.trim().toLowerCase();
    if (TRUE.includes(v)) dpop = true;
    else if (!FALSE.includes(v)) p.add(`OKTA_DPOP: expected true or false, got \`${env.OKTA_DPOP}\``);
  }
  if (!clientId || !privateKey || !keyFile) return undefined;
  return { clientId, privateKey, privateKeyFile: keyFile, ...(keyId ? { keyId } : {}), scopes, dpop };
}

function readTokenFile(path: string, problems: Problems, warn?: (m: string) => void): string | undefined {
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0 && warn) {
      warn(`--token-file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const token = readFileSync(path, 'utf8').trim();
    if (!token) problems.add(`--token-file: ${path} is empty`);
    return token || undefined;
  } catch (err) {
    problems.add(`--token-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

export function loadProcessConfig(flags: RawOptions, opts: LoadOptions = {}): ProcessConfig {
  const env = opts.env ?? process.env;
  const d = defaultProcessConfig();
  const p = new Problems();

  const orgUrlRaw = pick(flags, env, 'orgUrl', 'OKTA_ORG_URL') as string | undefined;
  let orgUrl = '';
  let token = '';
  const modeRaw = ((pick(flags, env, 'auth', 'OKTA_AUTH_MODE') as string | undefined) ?? d.authMode).trim().toLowerCase();
  let authMode: ProcessConfig['authMode'] = d.authMode;
  if (modeRaw === 'ssws' || modeRaw === 'oauth') authMode = modeRaw;
  else p.add(`--auth / OKTA_AUTH_MODE: expected ssws or oauth, got \`${modeRaw}\``);
  let oauth: OAuthConfig | undefined;
  if (opts.needOkta !== false && authMode === 'oauth') {
    if (!orgUrlRaw) p.add('--org-url / OKTA_ORG_URL: required (your Okta org, e.g. https://example.okta.com)');
    else {
      const bad = checkOrgUrl(orgUrlRaw);
      if (bad) p.add(`--org-url / OKTA_ORG_URL: ${bad}`);
      else orgUrl = new URL(orgUrlRaw).origin;
    }
    if (flags.tokenFile !== undefined) p.add('--token-file: not used with --auth oauth (the service app signs in with --client-id and --private-key); drop one of them');
    oauth = loadOAuth(flags, env, p, opts.warn);
  } else if (opts.needOkta !== false) {
    for (const [flag, name] of [['clientId', '--client-id'], ['privateKey', '--private-key'], ['keyId', '--key-id'], ['scopes', '--scopes'], ['dpop', '--dpop']] as const) {
      if (flags[flag] !== undefined) p.add(`${name}: only used with --auth oauth (or OKTA_AUTH_MODE=oauth); the API token mode is in effect`);
    }
    if (!orgUrlRaw) p.add('--org-url / OKTA_ORG_URL: required (your Okta org, e.g. https://example.okta.com)');
    else {
      const bad = checkOrgUrl(orgUrlRaw);
      if (bad) p.add(`--org-url / OKTA_ORG_URL: ${bad}`);
      else orgUrl = new URL(orgUrlRaw).origin;
    }
    const tokenFile = pick(flags, env, 'tokenFile', 'OKTA_API_TOKEN_FILE') as string | undefined;
    if (tokenFile) token = readTokenFile(tokenFile, p, opts.warn) ?? '';
    else if (env.OKTA_API_TOKEN) token = env.OKTA_API_TOKEN.trim();
    else p.add('OKTA_API_TOKEN or --token-file: required (an Okta API token; the token is never written anywhere)');
    if (token && /\s/.test(token)) p.add('OKTA_API_TOKEN: the token contains white space; paste the token only, without "SSWS"');
  }

  const redisUrl = (pick(flags, env, 'redis', 'REDIS_URL') as string | undefined) ?? d.redisUrl;
  const redisParsed = parseRedisSettings(
    {
      url: redisUrl,
      caFile: pick(flags, env, 'redisCa', 'REDIS_CA_FILE') as string | undefined,
      certFile: pick(flags, env, 'redisCert', 'REDIS_CERT_FILE') as string | undefined,
      keyFile: pick(flags, env, 'redisKey', 'REDIS_KEY_FILE') as string | undefined,
      tlsServername: flags.redisTlsServername as string | undefined,
      tlsInsecure: flags.redisTlsInsecure === true,
      sentinels: pick(flags, env, 'redisSentinels', 'REDIS_SENTINELS') as string | undefined,
      masterName: pick(flags, env, 'redisMaster', 'REDIS_MASTER') as string | undefined,
      sentinelUsername: env.REDIS_SENTINEL_USERNAME || undefined,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
    },
    opts.warn,
  );
  for (const problem of redisParsed.problems) p.add(problem);
  const evictionRaw = flags.allowEvictionPolicy ?? env.BULK_ENROLL_ALLOW_EVICTION_POLICY;
  const allowEvictionPolicy = evictionRaw === true || (typeof evictionRaw === 'string' && TRUE.includes(evictionRaw.trim().toLowerCase()));
  const prefix = (pick(flags, env, 'prefix', 'BULK_ENROLL_PREFIX') as string | undefined) ?? d.prefix;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) p.add(`--prefix: expected 1–64 letters, digits, _ . -, got \`${prefix}\``);

  const rateLimit = p.int('--rate-limit', pick(flags, env, 'rateLimit', 'BULK_ENROLL_RATE_LIMIT'), 1) ?? d.rateLimit;
  const usersRateLimit = p.int('--users-rate-limit', pick(flags, env, 'usersRateLimit', 'BULK_ENROLL_USERS_RATE_LIMIT'), 1) ?? rateLimit;
  const maxConcurrent = p.int('--max-concurrent', pick(flags, env, 'maxConcurrent', 'BULK_ENROLL_MAX_CONCURRENT'), 1, 75) ?? d.maxConcurrent;
  const pollShare = p.num('--poll-share', pick(flags, env, 'pollShare', 'BULK_ENROLL_POLL_SHARE'), 0, 0.9) ?? d.pollShare;
  const concurrency = p.int('--concurrency', pick(flags, env, 'concurrency', 'BULK_ENROLL_CONCURRENCY'), 1, 1000) ?? d.concurrency;
  const requestTimeoutMs = p.int('--request-timeout-ms', pick(flags, env, 'requestTimeoutMs', 'BULK_ENROLL_REQUEST_TIMEOUT_MS'), 100) ?? d.requestTimeoutMs;
  const redisReconnectWindowMs =
    p.int('--redis-reconnect-window-ms', pick(flags, env, 'redisReconnectWindowMs', 'BULK_ENROLL_REDIS_RECONNECT_WINDOW_MS'), 1000) ?? d.redisReconnectWindowMs;
  const redisOomGraceMs = p.int('--redis-oom-grace-ms', pick(flags, env, 'redisOomGraceMs', 'BULK_ENROLL_REDIS_OOM_GRACE_MS'), 500, 10 * MINUTE) ?? d.redisOomGraceMs;
  const maxInFlight = p.int('--max-in-flight', pick(flags, env, 'maxInFlight', 'BULK_ENROLL_MAX_IN_FLIGHT'), 1) ?? d.maxInFlight;
  const lockDurationMs = p.int('--lock-duration-ms', pick(flags, env, 'lockDurationMs', 'BULK_ENROLL_LOCK_DURATION_MS'), 500) ?? d.lockDurationMs;
  const stalledIntervalMs = p.int('--stalled-interval-ms', pick(flags, env, 'stalledIntervalMs', 'BULK_ENROLL_STALLED_INTERVAL_MS'), 250) ?? d.stalledIntervalMs;
  const reconcileIntervalMs = p.int('--reconcile-interval-ms', pick(flags, env, 'reconcileIntervalMs', 'BULK_ENROLL_RECONCILE_INTERVAL_MS'), 250) ?? d.reconcileIntervalMs;
  const logIntervalMs = p.int('--log-interval-ms', pick(flags, env, 'logIntervalMs', 'BULK_ENROLL_LOG_INTERVAL_MS'), 100) ?? d.logIntervalMs;
  const logsRateLimit = p.int('--logs-rate-limit', pick(flags, env, 'logsRateLimit', 'BULK_ENROLL_LOGS_RATE_LIMIT'), 1) ?? d.logsRateLimit;
  const logLevel = ((pick(flags, env, 'logLevel', 'BULK_ENROLL_LOG_LEVEL') as string | undefined) ?? d.logLevel).toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) p.add(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got \`${logLevel}\``);
  const logFile = pick(flags, env, 'logFile', 'BULK_ENROLL_LOG_FILE') as string | undefined;
  const exportActivation = pick(flags, env, 'exportActivation', 'BULK_ENROLL_EXPORT_ACTIVATION') as string | undefined;
  const insecure = flags.allowInsecureHttp ?? env.BULK_ENROLL_ALLOW_INSECURE_HTTP;
  const allowInsecureHttp = insecure === true || insecure === '1' || insecure === 'true';

  p.throwIfAny();
  return {
    orgUrl,
    authMode,
    token,
    ...(oauth ? { oauth } : {}),
    redisUrl,
    redis: redisParsed.settings ?? d.redis,
    allowEvictionPolicy,
    prefix,
    rateLimit,
    usersRateLimit,
    maxConcurrent,
    pollShare,
    concurrency,
    requestTimeoutMs,
    allowInsecureHttp,
    logLevel,
    logFile,
    exportActivation,
    redisReconnectWindowMs,
    redisOomGraceMs,
    maxInFlight,
    lockDurationMs,
    stalledIntervalMs,
    reconcileIntervalMs,
    logIntervalMs,
    logsRateLimit,
  };
}

export function loadRunSettings(flags: RawOptions, env: NodeJS.ProcessEnv = process.env): RunSettings {
  const d = DEFAULT_RUN_SETTINGS;
  const p = new Problems();
  const pollInitialMs = p.int('--poll-initial-ms', pick(flags, env, 'pollInitialMs', 'BULK_ENROLL_POLL_INITIAL_MS'), 10) ?? d.pollInitialMs;
  const pollFactor = p.num('--poll-factor', pick(flags, env, 'pollFactor', 'BULK_ENROLL_POLL_FACTOR'), 1, 10) ?? d.pollFactor;
  const pollMaxMs = p.int('--poll-max-ms', pick(flags, env, 'pollMaxMs', 'BULK_ENROLL_POLL_MAX_MS'), 10) ?? d.pollMaxMs;
  const activationTimeoutMs =
    p.int('--activation-timeout-ms', pick(flags, env, 'activationTimeoutMs', 'BULK_ENROLL_ACTIVATION_TIMEOUT_MS'), 100) ?? d.activationTimeoutMs;
  const attempts = p.int('--attempts', pick(flags, env, 'attempts', 'BULK_ENROLL_ATTEMPTS'), 1, 50) ?? d.attempts;
  const retryBaseMs = p.int('--retry-base-ms', pick(flags, env, 'retryBaseMs', 'BULK_ENROLL_RETRY_BASE_MS'), 1) ?? d.retryBaseMs;
  if (pollInitialMs !== null && pollMaxMs !== null && pollMaxMs < pollInitialMs) {
    p.add(`--poll-max-ms: expected at least --poll-initial-ms (${pollInitialMs}), got ${pollMaxMs}`);
  }
  const deliverRaw = String(pick(flags, env, 'deliver', 'BULK_ENROLL_DELIVER') ?? d.deliver).toLowerCase();
  if (!['email', 'sms', 'none'].includes(deliverRaw)) p.add(`--deliver: expected email, sms or none, got \`${deliverRaw}\``);
  const smsRaw = flags.smsToCsvPhone ?? env.BULK_ENROLL_SMS_TO_CSV_PHONE;
  const smsToCsvPhone = smsRaw === true || smsRaw === '1' || smsRaw === 'true';
  if (smsToCsvPhone && deliverRaw !== 'sms') p.add('--sms-to-csv-phone: only goes with --deliver sms');
  p.throwIfAny();
  // commander's --no-device-fields sets deviceFields=false
  const deviceFields = flags.deviceFields !== false;
  const deliver = deliverRaw as RunSettings['deliver'];
  const detect = String(pick(flags, env, 'detect', 'BULK_ENROLL_DETECT') ?? d.detect).toLowerCase();
  if (detect !== 'log' && detect !== 'poll') throw new ConfigError([`--detect: expected log or poll, got \`${detect}\``]);
  return { pollInitialMs, pollFactor, pollMaxMs, activationTimeoutMs, deviceFields, attempts, retryBaseMs, deliver, smsToCsvPhone, detect };
}
