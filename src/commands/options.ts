/**
 * Flags shared by several commands, declared once. Values are checked in
 * src/config.ts (all problems listed together), not here.
 */
import { Option, type Command } from 'commander';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addRedisOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'Redis URL (env REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--prefix <name>', 'namespace for all Redis keys (env BULK_ENROLL_PREFIX; default bulk-enroll)')
    .option('--redis-ca <file>', 'rediss://: CA certificates (PEM) the server\'s certificate must chain to (env REDIS_CA_FILE)')
    .option('--redis-cert <file>', 'rediss://: client certificate (PEM), for servers that ask for one (env REDIS_CERT_FILE)')
    .option('--redis-key <file>', 'rediss://: the client certificate\'s private key (PEM; env REDIS_KEY_FILE); should be mode 600')
    .option('--redis-tls-servername <name>', 'rediss://: check the server\'s certificate against this name (a TLS tunnel on localhost)')
    .option('--redis-tls-insecure', 'rediss://: do not check the server\'s certificate; loopback URLs only')
    .option('--redis-sentinels <list>', 'find the master through these Sentinels, host:port,host:port (env REDIS_SENTINELS; password: env REDIS_SENTINEL_PASSWORD)')
    .option('--redis-master <name>', 'with --redis-sentinels: the master\'s name (env REDIS_MASTER)')
    .option('--redis-oom-grace-ms <ms>', 'how long a full Redis (out of memory) may refuse writes before the command stops (default 5000)')
    .option('--allow-eviction-policy', 'accept a Redis whose maxmemory-policy is volatile-* (keys with a TTL may be evicted); recorded in the manifest (env BULK_ENROLL_ALLOW_EVICTION_POLICY=true)');
}

export function addOktaOptions(cmd: Command): Command {
  return cmd
    .option('--org-url <url>', 'Okta org URL, e.g. https://example.okta.com (env OKTA_ORG_URL)')
    .option('--token-file <path>', 'file holding the API token (else env OKTA_API_TOKEN); should be mode 600')
    .option('--auth <mode>', 'ssws (API token, default) or oauth (OAuth 2.0 service app) (env OKTA_AUTH_MODE)')
    .option('--client-id <id>', 'OAuth: the service app\'s client id (env OKTA_CLIENT_ID)')
    .option('--private-key <file>', 'OAuth: the app\'s private key, PEM or JWK JSON (env OKTA_PRIVATE_KEY_FILE); should be mode 600')
    .option('--key-id <kid>', 'OAuth: kid of the app\'s public key (env OKTA_KEY_ID; default: the JWK\'s kid)')
    .option('--scopes <list>', 'OAuth: scopes to request, space or comma separated (env OKTA_SCOPES; default okta.users.manage okta.users.read okta.groups.read okta.logs.read)')
    .option('--dpop', 'OAuth: bind tokens with DPoP proofs, for apps that require DPoP (env OKTA_DPOP=true)')
    .option('--allow-insecure-http', 'allow plain http:// to a non-loopback org URL (a simulator in a private network only)')
    .option('--request-timeout-ms <ms>', 'timeout of one Okta request (default 15000)');
}

export function addProcessOptions(cmd: Command): Command {
  addRedisOptions(addOktaOptions(cmd));
  return cmd
    .option('--rate-limit <perMinute>', 'Okta calls per minute for factor operations, shared by all workers (default 300)')
    .option('--users-rate-limit <perMinute>', 'Okta calls per minute for login lookups (default: --rate-limit)')
    .option('--max-concurrent <n>', 'Okta requests in flight per bucket across all workers (default 20; org limit 75)')
    .option('--poll-share <fraction>', 'share of the factor budget kept for polls when enrollments compete (default 0.3)')
    .option('--concurrency <n>', 'jobs processed at once per queue by this process (default 50)')
    .option('--max-in-flight <n>', 'rows in flight per run (default 5000)')
    .option('--redis-reconnect-window-ms <ms>', 'give up after Redis is unreachable this long (default 60000)')
    .option('--log-interval-ms <ms>', 'how often the System Log is read for activations (default 5000)')
    .option('--logs-rate-limit <perMinute>', 'System Log calls per minute (default 50; Okta allows about 60 for one token)')
    .option('--export-activation <file>', 'write QR codes / activation links to this owner-only file (for users without email or phone)')
    .option('--lock-duration-ms <ms>', 'a job whose worker died is taken over after about this long (default 30000)')
    .option('--stalled-interval-ms <ms>', 'how often workers look for stalled jobs (default 15000)')
    .option('--reconcile-interval-ms <ms>', 'how often rows without an outcome or a live job are looked for (default 10000)')
    .option('--log-level <level>', 'error | warn | info | verbose | debug (default info)')
    .option('--log-file <path>', 'also write JSON log lines to this file');
}

export function addRunSettingOptions(cmd: Command): Command {
  return cmd
    .option('--poll-initial-ms <ms>', 'first poll after enrollment (default: 1/120 of the activation window, 5 s for Okta)')
    .option('--poll-factor <x>', 'growth of the poll interval (default 2)')
    .option('--poll-max-ms <ms>', 'longest poll interval (default: 1/10 of the activation window, 60 s for Okta)')
    .option('--activation-timeout-ms <ms>', 'activation lifetime when Okta gives no expiresAt (default 660000)')
    .option('--attempts <n>', 'tries per enrollment / poll on 5xx and network errors (default 8)')
    .option('--retry-base-ms <ms>', 'base of the exponential retry backoff (default 1000)')
    .option('--no-device-fields', 'do not send deviceType / profile.deviceName with enrollments')
    .option('--detect <how>', "how activations are detected: log (Okta's System Log, one call for many users; default) or poll (every factor on a schedule)")
    .option('--deliver <channel>', 'after a push enrollment, have Okta send the user the activation link: email | sms | none (default email)')
    .option('--sms-to-csv-phone', "with --deliver sms: send to the row's phoneNumber instead of the phone Okta has for the user");
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--match <column=regex>', 'take only rows whose column matches (repeatable)').argParser(collect))
    .addOption(new Option('--skip <column=regex>', 'leave out rows whose column matches (repeatable)').argParser(collect))
    .option('--max-rows <n>', 'take at most this many rows');
}
