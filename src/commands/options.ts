/**
 * Flags shared by several commands, declared once. Values are checked in
 * src/config.ts (all problems listed together), not here.
 */
import { Option, type Command } from 'commander';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addRedisOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'Redis URL (env REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--prefix <name>', 'namespace for all Redis keys (env BULK_ENROLL_PREFIX; default bulk-enroll)');
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
  cmd
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
    .option('--reconcile-interval-ms <ms>', 'how often rows without an outcome or a live job are looked for (default 10000)');
  addLogOptions(cmd);
  return addCloseTimeoutOption(cmd);
}

/** Logging: level, console format, and the optional rotated log file. */
export function addLogOptions(cmd: Command): Command {
  return cmd
    .option('--log-level <level>', 'error | warn | info | verbose | debug (default info; env BULK_ENROLL_LOG_LEVEL)')
    .option('--log-format <format>', 'json | text log lines on stderr (default: text on a terminal, json otherwise; env BULK_ENROLL_LOG_FORMAT)')
    .option('--log-file <path>', 'also write JSON log lines to this file (default: no file; env BULK_ENROLL_LOG_FILE)')
    .option('--log-max-size <size>', 'with --log-file: rotate the file at this size, e.g. 50m, 512k (default 50m)')
    .option('--log-max-files <n>', 'with --log-file: files kept, the current one included (default 5)');
}

/** Every long-running command: one bound on how long a stop may take. */
export function addCloseTimeoutOption(cmd: Command): Command {
  return cmd.option(
    '--close-timeout-ms <ms>',
    'on SIGTERM / SIGINT, the longest the stop may take before the process exits anyway; active jobs get most of it, then are handed back (default 25000, below Kubernetes\' 30 s grace; env BULK_ENROLL_CLOSE_TIMEOUT_MS)',
  );
}

/** `worker` and `run`: the Prometheus /metrics and /healthz endpoint. */
export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .option('--metrics-port <port>', 'serve Prometheus /metrics and /healthz on this port (0: any free port; default: off; env BULK_ENROLL_METRICS_PORT)')
    .option('--metrics-host <address>', 'address for --metrics-port (default 127.0.0.1; 0.0.0.0 in a container; env BULK_ENROLL_METRICS_HOST)');
}

export function addRunSettingOptions(cmd: Command): Command {
  return cmd
    .option('--poll-initial-ms <ms>', 'first poll after enrollment (default: 1/120 of the activation window, 5 s for Okta)')
    .option('--poll-factor <x>', 'growth of the poll interval (default 2)')
    .option('--poll-max-ms <ms>', 'longest poll interval (default: 1/10 of the activation window, 60 s for Okta)')
    .option('--activation-timeout-ms <ms>', 'activation lifetime when Okta gives no expiresAt (default 660000)')
    .option('--attempts <n>', 'tries per enrollment / poll on 5xx and network errors (default 8)')
    .option('--retry-base-ms <ms>', 'base of the exponential retry backoff (default 1000)')
    .option('--device-fields', 'send deviceType / profile.deviceName with enrollments, as the older Factors document showed (today\'s API does not define them)')
    .option('--no-device-fields', 'do not send deviceType / profile.deviceName (the default)')
    .option('--row-retry-window-ms <ms>', 'a row that keeps meeting 429s on its own factor or 5xx answers ends failed after this long (default 1800000)')
    .option('--provisioning-wait-ms <ms>', 'how long to wait for users Okta reports as still being activated, E0000112 (default 1800000)')
    .option('--claim-wait-ms <ms>', 'how long a row waits while another run works on the same user and factor type (default 900000)')
    .option('--detect <how>', "how activations are detected: log (Okta's System Log, one call for many users; default) or poll (every factor on a schedule)")
    .option('--deliver <channel>', 'after a push enrollment, have Okta send the user the activation link: email | sms | none (default email)')
    .option('--sms-to-csv-phone', "with --deliver sms: send to the row's phoneNumber instead of the phone Okta has for the user");
}

/** How the input CSV is read: its delimiter, and whether columns that are not input columns are accepted. */
export function addInputOptions(cmd: Command, opts: { unknownColumnsIgnored?: boolean } = {}): Command {
  return cmd
    .option(
      '--allow-unknown-columns',
      opts.unknownColumnsIgnored
        ? 'accepted for scripts that pass it everywhere: this command always ignores the columns it does not read'
        : "accept and ignore columns that are not input columns (an HR export's department; an Okta user export is read by its Username / ID)",
    )
    .option('--delimiter <char>', 'column delimiter of the CSV: , ; tab or | (default: detected from the header line)');
}

/** Flags of commands that write an outcome report, inventory or plan CSV. */
export function addReportOptions(cmd: Command): Command {
  return cmd.option('--excel', 'start the CSV with a UTF-8 byte order mark, so that Excel shows names like Jürgen right');
}

export function addFilterOptions(cmd: Command): Command {
  addInputOptions(cmd);
  return cmd
    .addOption(new Option('--match <column=regex>', 'take only rows whose column matches (repeatable)').argParser(collect))
    .addOption(new Option('--skip <column=regex>', 'leave out rows whose column matches (repeatable)').argParser(collect))
    .option('--max-rows <n>', 'take at most this many rows');
}
