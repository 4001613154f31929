/**
 * Every setting, defined once: its flag, its environment variable, its default, how it is
 * parsed and bounded, and its help. The commands' flags (src/settings/commander.ts), the
 * loading of the configuration (src/config.ts), docs/settings.md and samples/.env.example
 * (src/settings/docs.ts, checked by a test) are all made from this table.
 *
 * Two kinds: process settings (credentials, Redis, rate limits, logging: per process) and
 * run settings (group `run`: stored with the run in Redis and honoured by every worker).
 */
import { DEFAULT_SCOPES } from '../okta/auth-oauth.js';
import { setting } from './define.js';
import { bool, int, list, num, oneOf, size, text } from './parse.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const ms = (min: number, max?: number) => int(min, max);

export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'] as const;
export const SCOPE_PATTERN = { pattern: /^[\x21\x23-\x5B\x5D-\x7E]+$/, expected: 'scope names without quotes or backslashes' };

/** Okta credentials and the org. */
export const OKTA_SETTINGS = {
  orgUrl: setting({ flag: '--org-url <url>', env: 'OKTA_ORG_URL', parse: text(), help: 'your Okta org, e.g. https://example.okta.com', group: 'okta' }),
  tokenFile: setting({ flag: '--token-file <path>', env: 'OKTA_API_TOKEN_FILE', parse: text(), help: 'a file holding the API token (else OKTA_API_TOKEN); should be mode 600', group: 'okta' }),
  auth: setting({ flag: '--auth <mode>', env: 'OKTA_AUTH_MODE', default: 'ssws' as const, parse: oneOf(['ssws', 'oauth'] as const), help: 'ssws (an API token) or oauth (an OAuth 2.0 service app)', group: 'okta' }),
  clientId: setting({ flag: '--client-id <id>', env: 'OKTA_CLIENT_ID', parse: text({ pattern: /^\S+$/, expected: 'a client id without spaces' }), help: "OAuth: the service app's client id (0oa…)", group: 'okta' }),
  privateKey: setting({ flag: '--private-key <file>', env: 'OKTA_PRIVATE_KEY_FILE', parse: text(), help: "OAuth: the app's private key, PEM or JWK JSON; should be mode 600", group: 'okta' }),
  keyId: setting({ flag: '--key-id <kid>', env: 'OKTA_KEY_ID', parse: text(), defaultText: "the JWK's kid", help: "OAuth: kid of the app's public key", group: 'okta' }),
  scopes: setting({ flag: '--scopes <list>', env: 'OKTA_SCOPES', default: [...DEFAULT_SCOPES], defaultText: DEFAULT_SCOPES.join(' '), parse: list(SCOPE_PATTERN, `scope names such as ${DEFAULT_SCOPES.join(' ')}`), help: 'OAuth: scopes to request, space or comma separated', group: 'okta' }),
  dpop: setting({ flag: '--dpop', env: 'OKTA_DPOP', default: false, parse: bool, help: 'OAuth: bind tokens with DPoP proofs, for apps that require DPoP', group: 'okta' }),
  allowInsecureHttp: setting({ flag: '--allow-insecure-http', env: 'BULK_ENROLL_ALLOW_INSECURE_HTTP', default: false, parse: bool, help: 'allow plain http:// to a non-loopback org URL (a simulator in a private network only)', group: 'okta' }),
  requestTimeoutMs: setting({ flag: '--request-timeout-ms <ms>', env: 'BULK_ENROLL_REQUEST_TIMEOUT_MS', default: 15 * SECOND, parse: ms(100), help: 'timeout of one Okta request', group: 'okta' }),
};

/** Where Redis is. */
export const REDIS_SETTINGS = {
  redis: setting({ flag: '--redis <url>', env: 'REDIS_URL', default: 'redis://127.0.0.1:6379', parse: text({ pattern: /^rediss?:\/\//, expected: 'redis://host:port or rediss://…' }), help: 'Redis URL', group: 'redis' }),
  prefix: setting({ flag: '--prefix <name>', env: 'BULK_ENROLL_PREFIX', default: 'bulk-enroll', parse: text({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, expected: '1–64 letters, digits, _ . -' }), help: 'namespace for all Redis keys', group: 'redis' }),
  redisCa: setting({ flag: '--redis-ca <file>', env: 'REDIS_CA_FILE', parse: text(), help: "rediss://: CA certificates (PEM) the server's certificate must chain to", group: 'redis' }),
  redisCert: setting({ flag: '--redis-cert <file>', env: 'REDIS_CERT_FILE', parse: text(), help: 'rediss://: client certificate (PEM), for servers that ask for one', group: 'redis' }),
  redisKey: setting({ flag: '--redis-key <file>', env: 'REDIS_KEY_FILE', parse: text(), help: "rediss://: the client certificate's private key (PEM); should be mode 600", group: 'redis' }),
  redisTlsServername: setting({ flag: '--redis-tls-servername <name>', env: 'REDIS_TLS_SERVERNAME', parse: text(), help: "rediss://: check the server's certificate against this name (a TLS tunnel on localhost)", group: 'redis' }),
  redisTlsInsecure: setting({ flag: '--redis-tls-insecure', env: 'REDIS_TLS_INSECURE', default: false, parse: bool, help: "rediss://: do not check the server's certificate; loopback URLs only", group: 'redis' }),
  redisSentinels: setting({ flag: '--redis-sentinels <list>', env: 'REDIS_SENTINELS', parse: text(), help: 'find the master through these Sentinels, host:port,host:port (password: REDIS_SENTINEL_PASSWORD)', group: 'redis' }),
  redisMaster: setting({ flag: '--redis-master <name>', env: 'REDIS_MASTER', parse: text(), help: "with --redis-sentinels: the master's name", group: 'redis' }),
  redisOomGraceMs: setting({ flag: '--redis-oom-grace-ms <ms>', env: 'BULK_ENROLL_REDIS_OOM_GRACE_MS', default: 5 * SECOND, parse: ms(500, 10 * MINUTE), help: 'how long a full Redis (out of memory) may refuse writes before the command stops', group: 'redis' }),
  allowEvictionPolicy: setting({
    flag: '--allow-eviction-policy',
    env: 'BULK_ENROLL_ALLOW_EVICTION_POLICY',
    default: false,
    parse: bool,
    help: 'accept a Redis whose maxmemory-policy is volatile-* (keys with a TTL may be evicted: job locks, the limiter); recorded in the manifest',
    group: 'redis',
  }),
};

/** How a process works: rate budget, concurrency, timings. */
export const WORKER_SETTINGS = {
  rateLimit: setting({ flag: '--rate-limit <perMinute>', env: 'BULK_ENROLL_RATE_LIMIT', default: 300, parse: int(1), help: 'Okta calls per minute for factor operations, shared by all workers (half of an Enterprise bucket)', group: 'workers' }),
  usersRateLimit: setting({ flag: '--users-rate-limit <perMinute>', env: 'BULK_ENROLL_USERS_RATE_LIMIT', defaultText: '--rate-limit', parse: int(1), help: 'Okta calls per minute for user lookups', group: 'workers' }),
  maxConcurrent: setting({ flag: '--max-concurrent <n>', env: 'BULK_ENROLL_MAX_CONCURRENT', default: 20, parse: int(1, 75), help: "Okta requests in flight per bucket across all workers (Okta's org limit is 75)", group: 'workers' }),
  pollShare: setting({ flag: '--poll-share <fraction>', env: 'BULK_ENROLL_POLL_SHARE', default: 0.3, parse: num(0, 0.9), help: 'share of the factor budget kept for polls when enrollments compete', group: 'workers' }),
  concurrency: setting({ flag: '--concurrency <n>', env: 'BULK_ENROLL_CONCURRENCY', default: 50, parse: int(1, 1000), help: 'jobs processed at once per queue by this process', group: 'workers' }),
  maxInFlight: setting({ flag: '--max-in-flight <n>', env: 'BULK_ENROLL_MAX_IN_FLIGHT', default: 5000, parse: int(1), help: 'rows in flight per run', group: 'workers' }),
  redisReconnectWindowMs: setting({ flag: '--redis-reconnect-window-ms <ms>', env: 'BULK_ENROLL_REDIS_RECONNECT_WINDOW_MS', default: 60 * SECOND, parse: ms(1000), help: 'give up (exit 1) after Redis is unreachable this long', group: 'workers' }),
  logIntervalMs: setting({ flag: '--log-interval-ms <ms>', env: 'BULK_ENROLL_LOG_INTERVAL_MS', default: 5 * SECOND, parse: ms(100), help: 'how often the System Log is read for activations', group: 'workers' }),
  logsRateLimit: setting({ flag: '--logs-rate-limit <perMinute>', env: 'BULK_ENROLL_LOGS_RATE_LIMIT', default: 50, parse: int(1), help: 'System Log calls per minute (Okta allows about 60 for one token)', group: 'workers' }),
  exportActivation: setting({ flag: '--export-activation <file>', env: 'BULK_ENROLL_EXPORT_ACTIVATION', parse: text(), help: 'write QR codes and activation links to this owner-only file (for users without email or phone)', group: 'workers' }),
  lockDurationMs: setting({ flag: '--lock-duration-ms <ms>', env: 'BULK_ENROLL_LOCK_DURATION_MS', default: 30 * SECOND, parse: ms(500), help: 'a job whose worker died is taken over after about this long', group: 'workers' }),
  stalledIntervalMs: setting({ flag: '--stalled-interval-ms <ms>', env: 'BULK_ENROLL_STALLED_INTERVAL_MS', default: 15 * SECOND, parse: ms(250), help: 'how often workers look for stalled jobs', group: 'workers' }),
  readOnlyPauseMs: setting({ flag: '--read-only-pause-ms <ms>', env: 'BULK_ENROLL_READ_ONLY_PAUSE_MS', default: 30 * SECOND, parse: ms(100, 5 * MINUTE), help: "when Okta answers 503 E0000010 (read-only mode during maintenance), every worker pauses that bucket this long, doubling with each further answer up to 5 minutes", group: 'workers' }),
  reconcileIntervalMs: setting({ flag: '--reconcile-interval-ms <ms>', env: 'BULK_ENROLL_RECONCILE_INTERVAL_MS', default: 10 * SECOND, parse: ms(250), help: 'how often rows without an outcome or a live job are looked for', group: 'workers' }),
};

/** Logging. */
export const LOG_SETTINGS = {
  logLevel: setting({ flag: '--log-level <level>', env: 'BULK_ENROLL_LOG_LEVEL', default: 'info' as (typeof LOG_LEVELS)[number], parse: oneOf(LOG_LEVELS), help: LOG_LEVELS.join(' | '), group: 'log' }),
  logFormat: setting({ flag: '--log-format <format>', env: 'BULK_ENROLL_LOG_FORMAT', defaultText: 'text on a terminal, json otherwise', parse: oneOf(['json', 'text'] as const), help: 'json | text log lines on stderr', group: 'log' }),
  logFile: setting({ flag: '--log-file <path>', env: 'BULK_ENROLL_LOG_FILE', defaultText: 'no file', parse: text(), help: 'also write JSON log lines to this file', group: 'log' }),
  logMaxSize: setting({ flag: '--log-max-size <size>', env: 'BULK_ENROLL_LOG_MAX_SIZE', default: 50 * 1024 * 1024, defaultText: '50m', parse: size(1024), help: 'with --log-file: rotate the file at this size, e.g. 50m, 512k', group: 'log' }),
  logMaxFiles: setting({ flag: '--log-max-files <n>', env: 'BULK_ENROLL_LOG_MAX_FILES', default: 5, parse: int(1, 1000), help: 'with --log-file: files kept, the current one included', group: 'log' }),
};

/** Stopping. */
export const CLOSE_SETTINGS = {
  closeTimeoutMs: setting({
    flag: '--close-timeout-ms <ms>',
    env: 'BULK_ENROLL_CLOSE_TIMEOUT_MS',
    default: 25 * SECOND,
    parse: ms(1000, 3_600_000),
    help: "on SIGTERM / SIGINT, the longest the stop may take before the process exits anyway; active jobs get most of it, then are handed back (below Kubernetes' 30 s grace)",
    group: 'close',
  }),
};

/** The metrics and health endpoint (`worker`, `run`). */
export const METRICS_SETTINGS = {
  metricsPort: setting({ flag: '--metrics-port <port>', env: 'BULK_ENROLL_METRICS_PORT', defaultText: 'off', parse: int(0, 65535), help: 'serve Prometheus /metrics and /healthz on this port (0: any free port)', group: 'metrics' }),
  metricsHost: setting({
    flag: '--metrics-host <address>',
    env: 'BULK_ENROLL_METRICS_HOST',
    default: '127.0.0.1',
    parse: text({ pattern: /^[A-Za-z0-9.:_[\]-]+$/, expected: 'an address to bind such as 127.0.0.1 or 0.0.0.0' }),
    help: 'address for --metrics-port (0.0.0.0 in a container)',
    group: 'metrics',
  }),
};

/** Run settings: given to `run` / `enqueue` / `reenroll`, stored with the run, honoured by every worker. */
export const RUN_SETTINGS = {
  pollInitialMs: setting({ flag: '--poll-initial-ms <ms>', env: 'BULK_ENROLL_POLL_INITIAL_MS', defaultText: '1/120 of the activation window (5 s for Okta)', parse: ms(10), help: 'first poll after enrollment', group: 'run' }),
  pollFactor: setting({ flag: '--poll-factor <x>', env: 'BULK_ENROLL_POLL_FACTOR', default: 2, parse: num(1, 10), help: 'growth of the poll interval', group: 'run' }),
  pollMaxMs: setting({ flag: '--poll-max-ms <ms>', env: 'BULK_ENROLL_POLL_MAX_MS', defaultText: '1/10 of the activation window (60 s for Okta)', parse: ms(10), help: 'longest poll interval', group: 'run' }),
  activationTimeoutMs: setting({ flag: '--activation-timeout-ms <ms>', env: 'BULK_ENROLL_ACTIVATION_TIMEOUT_MS', default: 11 * MINUTE, parse: ms(100), help: "activation lifetime assumed when Okta gives no expiresAt (Okta's 10 minutes plus one)", group: 'run' }),
  attempts: setting({ flag: '--attempts <n>', env: 'BULK_ENROLL_ATTEMPTS', default: 8, parse: int(1, 50), help: 'tries per enrollment / poll on 5xx and network errors', group: 'run' }),
  retryBaseMs: setting({ flag: '--retry-base-ms <ms>', env: 'BULK_ENROLL_RETRY_BASE_MS', default: 1 * SECOND, parse: ms(1), help: 'base of the exponential retry backoff', group: 'run' }),
  deviceFields: setting({
    flag: '--device-fields',
    env: 'BULK_ENROLL_DEVICE_FIELDS',
    default: false,
    parse: bool,
    negatable: true,
    help: "send deviceType / profile.deviceName with enrollments, as the older Factors document showed (today's API does not define them; --no-device-fields, the default, leaves them out)",
    group: 'run',
  }),
  rowRetryWindowMs: setting({ flag: '--row-retry-window-ms <ms>', env: 'BULK_ENROLL_ROW_RETRY_WINDOW_MS', default: 30 * MINUTE, parse: ms(1000), help: 'a row that keeps meeting 429s on its own factor or 5xx answers ends failed after this long', group: 'run' }),
  provisioningWaitMs: setting({ flag: '--provisioning-wait-ms <ms>', env: 'BULK_ENROLL_PROVISIONING_WAIT_MS', default: 30 * MINUTE, parse: ms(0), help: 'how long users Okta reports as still being activated (E0000112) are waited for', group: 'run' }),
  claimWaitMs: setting({ flag: '--claim-wait-ms <ms>', env: 'BULK_ENROLL_CLAIM_WAIT_MS', default: 15 * MINUTE, parse: ms(0), help: 'how long a row waits while another run works on the same user and factor type', group: 'run' }),
  detect: setting({ flag: '--detect <how>', env: 'BULK_ENROLL_DETECT', default: 'log' as const, parse: oneOf(['log', 'poll'] as const), help: "how activations are detected: log (Okta's System Log, one call for many users) or poll (every factor on a schedule)", group: 'run' }),
  deliver: setting({ flag: '--deliver <channel>', env: 'BULK_ENROLL_DELIVER', default: 'email' as const, parse: oneOf(['email', 'sms', 'none'] as const), help: 'after a push enrollment, have Okta send the user the activation link: email | sms | none', group: 'run' }),
  smsToCsvPhone: setting({ flag: '--sms-to-csv-phone', env: 'BULK_ENROLL_SMS_TO_CSV_PHONE', default: false, parse: bool, help: "with --deliver sms: send to the row's phoneNumber instead of the phone Okta has for the user", group: 'run' }),
};

/**
 * Variables read from the environment only (secrets, and settings of single commands), so
 * that samples/.env.example and docs/settings.md list every variable the code reads.
 */
export const ENVIRONMENT_ONLY: ReadonlyArray<{ env: string; help: string; secret?: boolean; example?: string }> = [
  { env: 'OKTA_API_TOKEN', help: 'the Okta API token (SSWS); held in memory only, never written anywhere', secret: true },
  { env: 'BULK_ENROLL_DASHBOARD_USER', help: '`dashboard`: basic-auth user (required when it binds beyond loopback)' },
  { env: 'BULK_ENROLL_DASHBOARD_PASSWORD', help: '`dashboard`: basic-auth password', secret: true },
  { env: 'BULK_ENROLL_DEBUG', help: '1: print stack traces of unexpected errors' },
  { env: 'REDIS_SENTINEL_USERNAME', help: 'with --redis-sentinels: the Sentinels\' user (ACL)' },
  { env: 'REDIS_SENTINEL_PASSWORD', help: 'with --redis-sentinels: the Sentinels\' password', secret: true },
  { env: 'HTTPS_PROXY', help: 'forward proxy for https:// orgs (also https_proxy, HTTP_PROXY, http_proxy)', example: 'http://proxy.example.com:3128' },
  { env: 'NO_PROXY', help: 'hosts reached without the proxy (also no_proxy)' },
  { env: 'NODE_EXTRA_CA_CERTS', help: 'extra CA certificates (PEM) for a TLS-inspecting proxy' },
  { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', help: 'turns OpenTelemetry traces on (with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER=otlp and the other standard OTEL_* variables)' },
];

export const PROCESS_SETTINGS = { ...OKTA_SETTINGS, ...REDIS_SETTINGS, ...WORKER_SETTINGS, ...LOG_SETTINGS, ...CLOSE_SETTINGS, ...METRICS_SETTINGS };
export const ALL_SETTINGS = { ...PROCESS_SETTINGS, ...RUN_SETTINGS };
