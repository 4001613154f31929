/**
 * Where the runner's Redis is and how to reach it, read once from flags and
 * environment: a plain or TLS URL (rediss://, with a private CA and a client
 * certificate when the server asks for one), or a Sentinel-managed master. Every
 * problem is reported together, and nothing here ever puts a password in a message.
 */
import { readFileSync, statSync } from 'node:fs';
import { isLoopbackHost } from '../okta/links.js';

export interface RedisTlsSettings {
  /** PEM text of the CA bundle the server's certificate must chain to (default: Node's CAs). */
  ca?: string;
  /** Client certificate and key (PEM), for servers with tls-auth-clients. */
  cert?: string;
  key?: string;
  /** Check the certificate against this name instead of the URL's host (a tunnel on localhost). */
  servername?: string;
  /** Skip certificate checks: only for a loopback URL (a TLS tunnel on this machine). */
  insecure: boolean;
}

export interface SentinelAddress {
  host: string;
  port: number;
}

interface CommonSettings {
  /** redis:// or rediss:// URL; with Sentinel only its user, password, database and scheme are used. */
  url: string;
  /** Set with rediss://. */
  tls?: RedisTlsSettings;
}

export interface StandaloneSettings extends CommonSettings {
  kind: 'standalone';
}

export interface SentinelSettings extends CommonSettings {
  kind: 'sentinel';
  sentinels: SentinelAddress[];
  /** The master's name in the Sentinels' configuration (`sentinel monitor <name> …`). */
  masterName: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

/**
 * One Redis deployment. Redis Cluster would be a third kind (its connection is an
 * ioredis Cluster); the runner does not support it yet.
 */
export type RedisSettings = StandaloneSettings | SentinelSettings;

/** What the flags and environment said, before checking. */
export interface RedisSettingsInput {
  url: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  tlsServername?: string;
  tlsInsecure?: boolean;
  /** `host:port,host:port` */
  sentinels?: string;
  masterName?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

const FLAG = {
  url: '--redis / REDIS_URL',
  ca: '--redis-ca / REDIS_CA_FILE',
  cert: '--redis-cert / REDIS_CERT_FILE',
  key: '--redis-key / REDIS_KEY_FILE',
  servername: '--redis-tls-servername',
  insecure: '--redis-tls-insecure',
  sentinels: '--redis-sentinels / REDIS_SENTINELS',
  master: '--redis-master / REDIS_MASTER',
};

function readPem(flag: string, path: string, marker: RegExp, what: string, problems: string[], warn?: (m: string) => void, secret = false): string | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      problems.push(`${flag}: expected a file holding ${what}, got ${st.isDirectory() ? 'a directory' : 'something that is not a regular file'} at ${path}`);
      return undefined;
    }
    if (secret && (st.mode & 0o077) !== 0) warn?.(`${flag} ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    const text = readFileSync(path, 'utf8');
    if (!marker.test(text)) {
      problems.push(`${flag}: expected ${what} (PEM, "-----BEGIN …-----"), got a file without one at ${path}`);
      return undefined;
    }
    return text;
  } catch (err) {
    problems.push(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** `host:port,[::1]:26380,host` (port 26379 when left out). */
export function parseSentinels(value: string): { sentinels: SentinelAddress[]; problems: string[] } {
  const sentinels: SentinelAddress[] = [];
  const problems: string[] = [];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) problems.push(`${FLAG.sentinels}: expected host:port[,host:port…], got \`${value}\``);
  for (const item of items) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(item);
    const port = m?.[3] === undefined ? 26379 : Number(m[3]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`${FLAG.sentinels}: expected host:port (port 1–65535), got \`${item}\``);
      continue;
    }
    sentinels.push({ host: (m[1] ?? m[2])!, port });
  }
  return { sentinels, problems };
}

/** Checks what the flags said and reads the TLS files. */
export function parseRedisSettings(input: RedisSettingsInput, warn?: (m: string) => void): { settings?: RedisSettings; problems: string[] } {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(input.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    problems.push(`${FLAG.url}: expected redis://host:port or rediss://…, got \`${redactUrl(input.url)}\``);
  }
  const tlsWanted = url?.protocol === 'rediss:';
  const tlsFlags: Array<[string, unknown]> = [
    [FLAG.ca, input.caFile],
    [FLAG.cert, input.certFile],
    [FLAG.key, input.keyFile],
    [FLAG.servername, input.tlsServername],
    [FLAG.insecure, input.tlsInsecure || undefined],
  ];
  if (url && !tlsWanted) {
    for (const [flag, v] of tlsFlags) if (v !== undefined) problems.push(`${flag}: only used with a rediss:// URL (TLS); ${FLAG.url} is \`${redactUrl(input.url)}\``);
  }
  if ((input.certFile === undefined) !== (input.keyFile === undefined)) {
    problems.push(`${FLAG.cert} and ${FLAG.key}: a client certificate needs both the certificate and its key, got only ${input.certFile !== undefined ? 'the certificate' : 'the key'}`);
  }

  let sentinels: SentinelAddress[] | undefined;
  if (input.sentinels !== undefined) {
    const parsed = parseSentinels(input.sentinels);
    problems.push(...parsed.problems);
    sentinels = parsed.sentinels;
    if (!input.masterName?.trim()) problems.push(`${FLAG.master}: required with ${FLAG.sentinels} (the name in the Sentinels' \`sentinel monitor <name> …\`)`);
  } else if (input.masterName !== undefined) {
    problems.push(`${FLAG.master}: only used with ${FLAG.sentinels}`);
  }
  if (input.tlsInsecure && url && tlsWanted) {
    if (sentinels) problems.push(`${FLAG.insecure}: not allowed with Sentinel (the master's address comes from the Sentinels); give the CA with ${FLAG.ca}`);
    else if (!isLoopbackHost(url.hostname)) {
      problems.push(
        `${FLAG.insecure}: only allowed for a loopback URL (a TLS tunnel on this machine), got host \`${url.hostname}\`; give the CA that signed the server's certificate with ${FLAG.ca}, or the name on it with ${FLAG.servername}`,
      );
    }
  }

  let tls: RedisTlsSettings | undefined;
  if (tlsWanted) {
    tls = { insecure: Boolean(input.tlsInsecure) };
    if (input.caFile !== undefined) tls.ca = readPem(FLAG.ca, input.caFile, /-----BEGIN CERTIFICATE-----/, 'CA certificates', problems);
    if (input.certFile !== undefined) tls.cert = readPem(FLAG.cert, input.certFile, /-----BEGIN CERTIFICATE-----/, 'a client certificate', problems);
    if (input.keyFile !== undefined) tls.key = readPem(FLAG.key, input.keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key', problems, warn, true);
    if (input.tlsServername !== undefined) {
      const name = input.tlsServername.trim();
      if (!/^[A-Za-z0-9.*-]{1,253}$/.test(name)) problems.push(`${FLAG.servername}: expected a host name, got \`${input.tlsServername}\``);
      else tls.servername = name;
    }
  }
  if (problems.length || !url) return { problems };
  if (sentinels) {
    return {
      problems,
      settings: {
        kind: 'sentinel',
        url: input.url,
        ...(tls ? { tls } : {}),
        sentinels,
        masterName: input.masterName!.trim(),
        ...(input.sentinelUsername ? { sentinelUsername: input.sentinelUsername } : {}),
        ...(input.sentinelPassword ? { sentinelPassword: input.sentinelPassword } : {}),
      },
    };
  }
  return { problems, settings: { kind: 'standalone', url: input.url, ...(tls ? { tls } : {}) } };
}

/** Settings for a plain URL (tests, the demo's private redis-server). */
export function redisSettingsOf(url: string): RedisSettings {
  return { kind: 'standalone', url };
}

/** redis://user:pass@host → redis://host (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'redis';
  }
}

/** Where the runner's Redis is, for messages: never a password. */
export function describeRedis(settings: RedisSettings | string): string {
  if (typeof settings === 'string') return redactUrl(settings);
  if (settings.kind === 'standalone') return redactUrl(settings.url);
  const list = settings.sentinels.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)).join(',');
  return `Sentinel master "${settings.masterName}" (sentinels ${list})`;
}

/** Passwords the settings hold, for log masking. */
export function redisSecrets(settings: RedisSettings): string[] {
  const out: string[] = [];
  try {
    const u = new URL(settings.url);
    if (u.password) out.push(decodeURIComponent(u.password));
  } catch {
    // a bad URL is reported by parseRedisSettings
  }
  if (settings.kind === 'sentinel' && settings.sentinelPassword) out.push(settings.sentinelPassword);
  return out;
}
