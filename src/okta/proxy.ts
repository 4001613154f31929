/**
 * Which forward proxy, if any, carries the requests to one origin (the Okta org).
 *
 * - `proxy: 'http://host:port'` (credentials allowed in the URL): always that proxy.
 * - `proxy: false`: never a proxy.
 * - otherwise the environment, as undici's EnvHttpProxyAgent reads it: for an https://
 *   org `https_proxy`, `HTTPS_PROXY`, then `http_proxy`, `HTTP_PROXY`; for an http:// org
 *   `http_proxy`, `HTTP_PROXY`; unless `no_proxy` / `NO_PROXY` names the host (`*`, a host,
 *   a domain with or without a leading `.` or `*.`, optionally `:port`, an IP address or a
 *   CIDR range). A loopback org (a simulator on this machine) never goes through an
 *   environment proxy, as Go's net/http decides too.
 *
 * A value without a scheme (`proxy.corp:3128`) means http://. Proxy credentials never
 * appear in a message: `display` is the URL without them.
 */
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { isLoopbackHost } from './links.js';

export interface ProxySettings {
  proxy?: string | false | undefined;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface ProxyChoice {
  /** The proxy URL as given (credentials included): for the connection only, never for messages. */
  url: URL;
  /** The proxy without credentials, e.g. http://proxy.corp:3128 (with credentials: http://[credentials]@proxy.corp:3128). */
  display: string;
  /** Where it came from: `proxy` (the option) or the environment variable's name. */
  source: string;
  /** The URL's password and user:password, for the redactor (empty without credentials). */
  secrets: string[];
}

const DEFAULT_PORT: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** A proxy URL without its credentials. */
export function displayProxy(url: URL): string {
  const credentials = url.username || url.password ? '[credentials]@' : '';
  return `${url.protocol}//${credentials}${url.host}`;
}

/** A proxy value as typed, with any credentials masked (for error messages about it). */
function masked(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}[credentials]@`);
}

/** Reads one proxy value; ConfigError naming `where` when it is not an http(s) proxy URL. */
export function parseProxyUrl(raw: string, where: string): ProxyChoice {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError([`${where}: expected a proxy URL such as http://proxy.example.com:3128, got ${JSON.stringify(masked(text))}`]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError([`${where}: expected an http:// or https:// proxy URL, got the scheme ${JSON.stringify(url.protocol)} in ${JSON.stringify(masked(text))}`]);
  }
  if (!url.hostname) {
    throw new ConfigError([`${where}: expected a proxy URL with a host, got ${JSON.stringify(masked(text))}`]);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new ConfigError([`${where}: expected a proxy URL without a path or query (http://host:port), got ${JSON.stringify(displayProxy(url) + url.pathname + url.search)}`]);
  }
  const secrets: string[] = [];
  if (url.password) {
    secrets.push(decodeURIComponent(url.password), url.password);
    secrets.push(`${url.username}:${url.password}`);
  }
  return { url, display: displayProxy(url), source: where, secrets };
}

function envValue(env: NodeJS.ProcessEnv, names: readonly string[]): [string, string] | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return [name, v];
  }
  return undefined;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Whether NO_PROXY excludes the host. Entries are separated by commas or spaces; `*`
 * excludes everything; `example.com`, `.example.com` and `*.example.com` exclude that
 * host and its subdomains; `host:port` only that port; `10.0.0.0/8` a range of addresses.
 */
export function noProxyExcludes(noProxy: string, hostname: string, port: number): boolean {
  const host = stripBrackets(hostname.toLowerCase()).replace(/\.$/, '');
  const ipVersion = isIP(host);
  for (const raw of noProxy.split(/[,\s]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort = 0;
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (withPort) {
      entry = withPort[1]!;
      entryPort = Number(withPort[2]);
    }
    if (entryPort && entryPort !== port) continue;
    entry = stripBrackets(entry).replace(/^\*?\./, '').replace(/\.$/, '');
    if (!entry) continue;
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      const base = entry.slice(0, slash);
      const bits = Number(entry.slice(slash + 1));
      const family = isIP(base);
      if (!family || !ipVersion || family !== ipVersion || !Number.isInteger(bits)) continue;
      const list = new BlockList();
      try {
        list.addSubnet(base, bits, family === 4 ? 'ipv4' : 'ipv6');
      } catch {
        continue;
      }
      if (list.check(host, ipVersion === 4 ? 'ipv4' : 'ipv6')) return true;
      continue;
    }
    if (host === entry || (!ipVersion && host.endsWith(`.${entry}`))) return true;
  }
  return false;
}

/** The proxy for requests to `origin`, or undefined for a direct connection. */
export function chooseProxy(origin: string, settings: ProxySettings): ProxyChoice | undefined {
  const { proxy } = settings;
  if (proxy === false) return undefined;
  if (proxy !== undefined) {
    if (typeof proxy !== 'string' || proxy.trim() === '') {
      throw new ConfigError([`proxy: expected a proxy URL such as http://proxy.example.com:3128, or false for none, got ${JSON.stringify(proxy)}`]);
    }
    return parseProxyUrl(proxy, 'proxy');
  }
  const env = settings.env ?? process.env;
  const target = new URL(origin);
  const names = target.protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] : ['http_proxy', 'HTTP_PROXY'];
  const found = envValue(env, names);
  if (!found) return undefined;
  if (isLoopbackHost(target.hostname)) return undefined;
  const noProxy = envValue(env, ['no_proxy', 'NO_PROXY']);
  const port = Number(target.port) || DEFAULT_PORT[target.protocol] || 0;
  if (noProxy && noProxyExcludes(noProxy[1], target.hostname, port)) return undefined;
  return parseProxyUrl(found[1], found[0]);
}
