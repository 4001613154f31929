/**
 * The undici dispatcher that carries every request to the Okta org (API calls and the
 * OAuth token request alike): a keep-alive Pool to the org origin, or the same through a
 * forward proxy (undici's ProxyAgent): CONNECT tunnels for an https:// org, plain
 * forwarding (absolute URIs) for an http:// one, as curl does.
 *
 * An extra CA (`ca`, PEM) is trusted beside Node's own roots (and NODE_EXTRA_CA_CERTS),
 * for the org, a TLS-inspecting corporate proxy, or a self-signed test server.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Pool, ProxyAgent, type Dispatcher } from 'undici';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { chooseProxy, type ProxyChoice, type ProxySettings } from './proxy.js';

/** PEM text (one or more certificates), a Buffer of it, or several. */
export type CaInput = string | Buffer | ReadonlyArray<string | Buffer>;

/** What an operator chooses (OktaClientOptions / OAuthOptions carry these fields). */
export interface TransportSettings extends ProxySettings {
  ca?: CaInput | undefined;
}

export interface TransportLimits {
  /** Connections to the org. */
  connections: number;
  /** Headers and body timeouts of one request; connect timeout at most 10 s. */
  timeoutMs: number;
}

export interface Transport {
  dispatcher: Dispatcher;
  /** The proxy in use, undefined for a direct connection. */
  proxy: ProxyChoice | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA list to trust: Node's roots, NODE_EXTRA_CA_CERTS (Node drops it once a `ca` is
 * given, so it is read here) and the extra certificates. Undefined without `ca`: Node's
 * defaults then apply unchanged.
 */
export function trustedCas(ca: CaInput | undefined, env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  if (ca === undefined) return undefined;
  const inputs = typeof ca === 'string' || Buffer.isBuffer(ca) ? [ca] : Array.isArray(ca) ? ca : undefined;
  if (!inputs) throw new ConfigError([`ca: expected PEM certificate text (-----BEGIN CERTIFICATE-----), a Buffer of it or a list of them, got ${typeof ca}`]);
  const extra: string[] = [];
  for (const input of inputs) {
    const text = Buffer.isBuffer(input) ? input.toString('utf8') : typeof input === 'string' ? input : '';
    const certs = text.match(PEM_CERT);
    if (!certs) {
      throw new ConfigError([
        `ca: expected PEM certificate text (-----BEGIN CERTIFICATE-----), got ${text.trim() === '' ? 'an empty value' : `${text.length} characters without a certificate`}`,
      ]);
    }
    extra.push(...certs);
  }
  const fromEnv: string[] = [];
  const file = env.NODE_EXTRA_CA_CERTS;
  if (file) {
    try {
      fromEnv.push(...(readFileSync(file, 'utf8').match(PEM_CERT) ?? []));
    } catch {
      // Node itself warns at start about an unreadable NODE_EXTRA_CA_CERTS.
    }
  }
  return [...rootCertificates, ...fromEnv, ...extra];
}

/**
 * The dispatcher for `origin`. The proxy's credentials are registered with the redactor
 * (they are masked in every log line from then on).
 */
export function createTransport(origin: string, limits: TransportLimits, settings: TransportSettings): Transport {
  const proxy = chooseProxy(origin, settings);
  for (const s of proxy?.secrets ?? []) registerSecret(s);
  const ca = trustedCas(settings.ca, settings.env);
  const tls = ca ? { ca } : {};
  const poolOptions = {
    connections: limits.connections,
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
  };
  const connectTimeout = Math.min(limits.timeoutMs, 10_000);
  if (!proxy) {
    return { dispatcher: new Pool(origin, { ...poolOptions, connect: { timeout: connectTimeout, ...tls } }), proxy };
  }
  const tunnel = new URL(origin).protocol === 'https:';
  const dispatcher = new ProxyAgent({
    uri: proxy.url.href,
    proxyTunnel: tunnel,
    // Every origin's pool (the org's through the tunnel, the proxy's for plain forwarding) keeps our limits.
    factory: (o: string | URL, options: object) => new Pool(o, { ...options, ...poolOptions }),
    requestTls: { timeout: connectTimeout, ...tls },
    proxyTls: { timeout: connectTimeout, ...tls },
    ...poolOptions,
  });
  return { dispatcher, proxy };
}
