/**
 * Configuration, built in one place: defaults → environment → command-line flags,
 * validated once, every problem listed together (ConfigError). Each setting's flag,
 * variable, default and parser is defined once, in src/settings/table.ts; what is here are
 * the typed results and the rules between settings (credentials, log file options).
 *
 * Two kinds of settings:
 *  - process settings (Okta credentials, Redis, rate limit, concurrency, logging): given
 *    to `run` / `worker` / `resume`, per process;
 *  - run settings (poll schedule, activation timeout, device fields, retries): given to
 *    `run` / `enqueue`, stored with the run in Redis and honoured by every worker.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { loadSigningKey } from './okta/auth-oauth.js';
import { flagName, given, readSettings, type Values } from './settings/define.js';
import { CLOSE_SETTINGS, LOG_SETTINGS, METRICS_SETTINGS, OKTA_SETTINGS, PROCESS_SETTINGS, REDIS_SETTINGS, RUN_SETTINGS, WORKER_SETTINGS } from './settings/table.js';

const REST_OF_PROCESS = { ...REDIS_SETTINGS, ...WORKER_SETTINGS, ...LOG_SETTINGS, ...CLOSE_SETTINGS, ...METRICS_SETTINGS };
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
  /** JSON log lines also go to this file (rotated by size); none unless asked for. */
  logFile?: string;
  /** Console log format; undefined: text on a terminal, JSON lines otherwise. */
  logFormat?: 'json' | 'text';
  /** The log file rotates at this size. */
  logMaxSizeBytes: number;
  /** Log files kept, the current one included. */
  logMaxFiles: number;
  /**
   * The longest a stop (SIGTERM / SIGINT) may take before the process exits anyway; below
   * Kubernetes' default 30 s grace. Active jobs get most of it (src/shutdown.ts).
   */
  closeTimeoutMs: number;
  /** Serve /metrics and /healthz on this port (`worker`, `run`); 0: any free port; undefined: off. */
  metricsPort?: number;
  /** Address the metrics server binds (loopback unless told otherwise). */
  metricsHost: string;
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
  /** Okta's read-only mode: the first cluster-wide pause of a bucket (it doubles, up to 5 minutes). */
  readOnlyPauseMs: number;
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
  /** How long a row may keep meeting 429s on its own resource or 5xx answers before it ends failed. */
  rowRetryWindowMs: number;
  /** How long a user Okta reports as still being activated (E0000112) is waited for. */
  provisioningWaitMs: number;
  /** How long a row waits while another run works on the same user and factor type (then IN_FLIGHT_ELSEWHERE). */
  claimWaitMs: number;
}

/** The run settings' defaults, from the settings table. */
export const DEFAULT_RUN_SETTINGS: RunSettings = runSettingsFrom(readSettings(RUN_SETTINGS, {}, {}, []));

function runSettingsFrom(v: Values<typeof RUN_SETTINGS>): RunSettings {
  return {
    pollInitialMs: v.pollInitialMs ?? null,
    pollFactor: v.pollFactor!,
    pollMaxMs: v.pollMaxMs ?? null,
    activationTimeoutMs: v.activationTimeoutMs!,
    deviceFields: v.deviceFields!,
    attempts: v.attempts!,
    retryBaseMs: v.retryBaseMs!,
    deliver: v.deliver!,
    smsToCsvPhone: v.smsToCsvPhone!,
    detect: v.detect!,
    rowRetryWindowMs: v.rowRetryWindowMs!,
    provisioningWaitMs: v.provisioningWaitMs!,
    claimWaitMs: v.claimWaitMs!,
  };
}

export function defaultProcessConfig(): Omit<ProcessConfig, 'orgUrl' | 'token'> {
  return processConfigFrom(readSettings(PROCESS_SETTINGS, {}, {}, []));
}

function processConfigFrom(v: Values<typeof PROCESS_SETTINGS>): Omit<ProcessConfig, 'orgUrl' | 'token'> {
  return {
    authMode: v.auth!,
    redisUrl: v.redis!,
    redis: redisSettingsOf(v.redis!),
    allowEvictionPolicy: v.allowEvictionPolicy!,
    prefix: v.prefix!,
    rateLimit: v.rateLimit!,
    usersRateLimit: v.usersRateLimit ?? v.rateLimit!,
    maxConcurrent: v.maxConcurrent!,
    pollShare: v.pollShare!,
    concurrency: v.concurrency!,
    requestTimeoutMs: v.requestTimeoutMs!,
    allowInsecureHttp: v.allowInsecureHttp!,
    logLevel: v.logLevel!,
    ...(v.logFile ? { logFile: v.logFile } : {}),
    ...(v.logFormat ? { logFormat: v.logFormat } : {}),
    logMaxSizeBytes: v.logMaxSize!,
    logMaxFiles: v.logMaxFiles!,
    closeTimeoutMs: v.closeTimeoutMs!,
    ...(v.metricsPort !== undefined ? { metricsPort: v.metricsPort } : {}),
    metricsHost: v.metricsHost!,
    ...(v.exportActivation ? { exportActivation: v.exportActivation } : {}),
    redisReconnectWindowMs: v.redisReconnectWindowMs!,
    redisOomGraceMs: v.redisOomGraceMs!,
    maxInFlight: v.maxInFlight!,
    lockDurationMs: v.lockDurationMs!,
    stalledIntervalMs: v.stalledIntervalMs!,
    reconcileIntervalMs: v.reconcileIntervalMs!,
    readOnlyPauseMs: v.readOnlyPauseMs!,
    logIntervalMs: v.logIntervalMs!,
    logsRateLimit: v.logsRateLimit!,
  };
}

/** Flags as commander hands them over (strings unless parsed). */
export type RawOptions = Record<string, unknown>;



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


/** Problems collected for one load: pushed, then thrown together as one ConfigError. */
type Problems = string[];

function readPrivateKeyFile(path: string, problems: Problems, warn?: (m: string) => void): string | undefined {
  const name = '--private-key / OKTA_PRIVATE_KEY_FILE';
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      problems.push(`${name}: expected a file holding a PEM or JWK private key, got ${st.isDirectory() ? 'a directory' : 'something that is not a regular file'} at ${path}`);
      return undefined;
    }
    if ((st.mode & 0o077) !== 0 && warn) {
      warn(`--private-key ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const text = readFileSync(path, 'utf8');
    if (!text.trim()) {
      problems.push(`${name}: ${path} is empty`);
      return undefined;
    }
    try {
      loadSigningKey(text);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const problem of err.problems) problems.push(`${name}: ${path}: ${problem.replace(/^privateKey: /, '')}`);
      return undefined;
    }
    return text;
  } catch (err) {
    problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function readTokenFile(path: string, problems: Problems, warn?: (m: string) => void): string | undefined {
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0 && warn) {
      warn(`--token-file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const token = readFileSync(path, 'utf8').trim();
    if (!token) problems.push(`--token-file: ${path} is empty`);
    return token || undefined;
  } catch (err) {
    problems.push(`--token-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function orgOrigin(raw: string | undefined, problems: Problems): string {
  if (!raw) {
    problems.push('--org-url / OKTA_ORG_URL: required (your Okta org, e.g. https://example.okta.com)');
    return '';
  }
  const bad = checkOrgUrl(raw);
  if (bad) {
    problems.push(`--org-url / OKTA_ORG_URL: ${bad}`);
    return '';
  }
  return new URL(raw).origin;
}

/** The Okta credentials: an API token, or an OAuth service app; cross-field rules here, values from the table. */
function loadCredentials(v: Values<typeof OKTA_SETTINGS>, flags: RawOptions, env: NodeJS.ProcessEnv, problems: Problems, warn?: (m: string) => void): Pick<ProcessConfig, 'orgUrl' | 'token' | 'oauth'> {
  const orgUrl = orgOrigin(v.orgUrl, problems);
  if (v.auth === 'oauth') {
    if (given(OKTA_SETTINGS.tokenFile, flags, {})) problems.push('--token-file: not used with --auth oauth (the service app signs in with --client-id and --private-key); drop one of them');
    if (!v.clientId) problems.push("--client-id / OKTA_CLIENT_ID: required with --auth oauth (the service app's client id, 0oa…)");
    let privateKey: string | undefined;
    if (!v.privateKey) problems.push("--private-key / OKTA_PRIVATE_KEY_FILE: required with --auth oauth (a file holding the app's private key, PEM or JWK)");
    else privateKey = readPrivateKeyFile(v.privateKey, problems, warn);
    if (!v.clientId || !privateKey || !v.privateKey) return { orgUrl, token: '' };
    return { orgUrl, token: '', oauth: { clientId: v.clientId, privateKey, privateKeyFile: v.privateKey, ...(v.keyId ? { keyId: v.keyId } : {}), scopes: v.scopes!, dpop: v.dpop! } };
  }
  for (const key of ['clientId', 'privateKey', 'keyId', 'scopes', 'dpop'] as const) {
    if (given(OKTA_SETTINGS[key], flags, {})) problems.push(`${flagName(OKTA_SETTINGS[key].flag)}: only used with --auth oauth (or OKTA_AUTH_MODE=oauth); the API token mode is in effect`);
  }
  let token = '';
  if (v.tokenFile) token = readTokenFile(v.tokenFile, problems, warn) ?? '';
  else if (env.OKTA_API_TOKEN) token = env.OKTA_API_TOKEN.trim();
  else problems.push('OKTA_API_TOKEN or --token-file: required (an Okta API token; the token is never written anywhere)');
  if (token && /\s/.test(token)) problems.push('OKTA_API_TOKEN: the token contains white space; paste the token only, without "SSWS"');
  return { orgUrl, token };
}

export function loadProcessConfig(flags: RawOptions, opts: LoadOptions = {}): ProcessConfig {
  const env = opts.env ?? process.env;
  const problems: Problems = [];
  // The credentials' rules first (their problems matter most), then the Okta values' own problems.
  const oktaProblems: Problems = [];
  const oktaValues = readSettings(OKTA_SETTINGS, flags, env, oktaProblems);
  let credentials: Pick<ProcessConfig, 'orgUrl' | 'token' | 'oauth'> = { orgUrl: '', token: '' };
  if (opts.needOkta !== false) {
    credentials = loadCredentials(oktaValues, flags, env, problems, opts.warn);
    problems.push(...oktaProblems);
  }
  const v = { ...readSettings(REST_OF_PROCESS, flags, env, problems), ...oktaValues } as Values<typeof PROCESS_SETTINGS>;
  const base = processConfigFrom(v);
  if (!v.logFile) {
    for (const key of ['logMaxSize', 'logMaxFiles'] as const) {
      if (given(LOG_SETTINGS[key], flags, {})) problems.push(`${flagName(LOG_SETTINGS[key].flag)}: only used with --log-file (without it nothing is written to a file)`);
    }
  }
  const redisParsed = parseRedisSettings(
    {
      url: base.redisUrl,
      caFile: v.redisCa,
      certFile: v.redisCert,
      keyFile: v.redisKey,
      tlsServername: v.redisTlsServername,
      tlsInsecure: v.redisTlsInsecure === true,
      sentinels: v.redisSentinels,
      masterName: v.redisMaster,
      sentinelUsername: env.REDIS_SENTINEL_USERNAME || undefined,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
    },
    opts.warn,
  );
  problems.push(...redisParsed.problems);
  if (problems.length) throw new ConfigError(problems);
  return { ...base, ...credentials, ...(redisParsed.settings ? { redis: redisParsed.settings } : {}) };
}

export function loadRunSettings(flags: RawOptions, env: NodeJS.ProcessEnv = process.env): RunSettings {
  const problems: Problems = [];
  const settings = runSettingsFrom(readSettings(RUN_SETTINGS, flags, env, problems));
  if (settings.pollInitialMs !== null && settings.pollMaxMs !== null && settings.pollMaxMs < settings.pollInitialMs) {
    problems.push(`--poll-max-ms: expected at least --poll-initial-ms (${settings.pollInitialMs}), got ${settings.pollMaxMs}`);
  }
  if (settings.smsToCsvPhone && settings.deliver !== 'sms') problems.push('--sms-to-csv-phone: only goes with --deliver sms');
  if (problems.length) throw new ConfigError(problems);
  return settings;
}
