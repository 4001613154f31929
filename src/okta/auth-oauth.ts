/**
 * OAuth 2.0 service-app authentication: the client credentials grant with a
 * `private_key_jwt` client assertion (RFC 7523), optionally DPoP-bound (RFC 9449).
 *
 * - The client assertion is signed with `jose` (RS256 for an RSA key, ES256 for an EC
 *   P-256 key): iss = sub = client id, aud = <org>/oauth2/v1/token, exp 5 minutes
 *   ahead (Okta allows at most one hour), a fresh random jti every time.
 * - One access token per provider (one provider per process), shared by every
 *   concurrent request; refreshes are single-flight and happen at 80% of expires_in.
 *   A 401 refreshes once (unless a concurrent refresh already replaced the token the
 *   request carried).
 * - DPoP: an EC P-256 key pair made when the provider is created, a proof per request
 *   (typ dpop+jwt, jwk, htm, htu without query, iat, jti, ath on resource requests),
 *   also on the token request; `use_dpop_nonce` answers are retried with the nonce
 *   (400 at the token endpoint, 401 + WWW-Authenticate on resources).
 * - The token request goes to the org origin only (OriginPolicy), never anywhere else,
 *   through the same proxy as the API requests (the `proxy` option, else HTTPS_PROXY /
 *   HTTP_PROXY / NO_PROXY), with the same extra CA; its answer is read up to 1 MB.
 *
 * The private key, the assertions, the DPoP private key and the access tokens never
 * appear in an error message or a warning; access tokens are reported to `onSecret` as
 * they are issued so the log redactor can mask them.
 */
import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, randomUUID, type JsonWebKey, type webcrypto } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../errors.js';
import { maskSecrets } from '../redact.js';
import { OktaApiError, OktaProtocolError } from './errors.js';
import { OriginPolicy } from './links.js';
import { RequestTimeout, toNetworkError } from './network-errors.js';
import { classifyRateLimit, parseRateLimit } from './rate-limit-headers.js';
import { BODY_CAPS, readCapped } from './read-body.js';
import { createTransport } from './transport.js';
import { USER_AGENT } from './user-agent.js';
import type { AuthProvider, HttpMethod, UnauthorizedInfo } from './types.js';
import { mainChallenge } from './www-authenticate.js';

export const TOKEN_PATH = '/oauth2/v1/token';
export const DEFAULT_SCOPES: readonly string[] = Object.freeze(['okta.users.manage', 'okta.users.read', 'okta.groups.read', 'okta.logs.read']);
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Lifetime of one client assertion (Okta refuses more than one hour). */
export const ASSERTION_TTL_SECONDS = 5 * 60;
/** Share of expires_in after which the token is replaced. */
export const REFRESH_AT = 0.8;
/** A token this close to its expiry is not sent any more, even when a refresh failed. */
const EXPIRY_MARGIN_MS = 5_000;
/** After a failed early refresh, the still-valid token is used this long before trying again. */
const REFRESH_RETRY_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 15_000;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export type PrivateKeyInput = string | JWK | JsonWebKey | KeyObject | webcrypto.CryptoKey;

const WebCryptoKey = (globalThis as { CryptoKey?: new () => webcrypto.CryptoKey }).CryptoKey;

export interface OAuthOptions {
  /** https://example.okta.com : the token endpoint is <orgUrl>/oauth2/v1/token. */
  orgUrl: string;
  /** The service app's client id. */
  clientId: string;
  /** The app's private key: PEM text, JWK (object or JSON text), a KeyObject or CryptoKey. RSA (RS256) or EC P-256 (ES256). */
  privateKey: PrivateKeyInput;
  /** `kid` of the public key registered on the app. Default: the JWK's `kid`, if any. */
  keyId?: string;
  /** Scopes to request, e.g. DEFAULT_SCOPES. */
  scopes: readonly string[];
  /** Bind tokens with DPoP (Okta's default for new API service apps). */
  dpop?: boolean;
  /** Timeout of one token request. Default 15000. */
  timeoutMs?: number;
  /** Allow plain http:// to a non-loopback host (a simulator in a private network). */
  allowInsecureHttp?: boolean;
  warn?: (message: string, meta?: Record<string, unknown>) => void;
  /** Called with every access token as it is issued (register it with the log redactor). */
  onSecret?: (secret: string) => void;
  /** Time source (tests). Default Date.now. */
  now?: () => number;
  /** Forward proxy for the token request: as OktaClientOptions.proxy (undefined: the environment; false: none). */
  proxy?: string | false;
  /** Environment for the proxy variables (tests). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Extra CA certificates (PEM), as OktaClientOptions.ca. */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/** Token requests are rare: two connections are plenty. */
const TOKEN_CONNECTIONS = 2;

/** The AuthProvider plus what an operator or a test may want to see. */
export interface OAuthProvider extends AuthProvider {
  readonly kind: 'oauth';
  /** Token requests sent (each nonce retry counts). */
  readonly tokenRequests: number;
  /** Scopes granted with the current token (what the token endpoint said). */
  readonly grantedScopes: string[] | undefined;
  /** RS256 or ES256. */
  readonly algorithm: 'RS256' | 'ES256';
  /** Drops the current token; the next request fetches a new one. */
  invalidate(): void;
}

interface Token {
  value: string;
  /** `Bearer` or `DPoP`, from token_type. */
  scheme: 'Bearer' | 'DPoP';
  refreshAt: number;
  expiresAt: number;
  scopes: string[] | undefined;
}

interface SigningKey {
  key: KeyObject;
  alg: 'RS256' | 'ES256';
  kid: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a key input is, in words that never include key material. */
function kindOf(input: unknown): string {
  if (typeof input === 'string') return input.trim().startsWith('{') ? 'JWK text' : input.includes('-----BEGIN') ? 'PEM text' : 'a string that is neither PEM nor JWK JSON';
  if (input instanceof KeyObject) return `a ${input.type} KeyObject`;
  if (isObject(input)) return 'a JWK object';
  return typeof input;
}

/**
 * Reads a private key for client assertions. Throws ConfigError naming what was
 * expected and what kind of thing was found, never the key itself.
 */
export function loadSigningKey(input: PrivateKeyInput, keyId?: string): SigningKey {
  const where = 'privateKey';
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (input instanceof KeyObject) key = input;
    else if (typeof input === 'string') {
      const text = input.trim();
      if (text.startsWith('{')) {
        let jwk: unknown;
        try {
          jwk = JSON.parse(text);
        } catch {
          throw new ConfigError([`${where}: expected a PEM private key or a private JWK as JSON, got JWK text that is not valid JSON`]);
        }
        if (!isObject(jwk)) throw new ConfigError([`${where}: expected a JWK object, got JSON that is not an object`]);
        kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
        key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } else if (text.includes('-----BEGIN') && text.includes('PRIVATE KEY-----')) {
        key = createPrivateKey(text);
      } else {
        throw new ConfigError([`${where}: expected a PEM private key (-----BEGIN PRIVATE KEY-----) or a private JWK as JSON, got ${kindOf(input)}`]);
      }
    } else if (isObject(input) && typeof (input as { kty?: unknown }).kty === 'string') {
      const jwk = input as Record<string, unknown>;
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } else if (WebCryptoKey && input instanceof WebCryptoKey) {
      key = KeyObject.from(input);
    } else {
      throw new ConfigError([`${where}: expected a PEM private key, a private JWK, a KeyObject or a CryptoKey, got ${kindOf(input)}`]);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // node:crypto's message names the problem (bad base64, unsupported key), never the key.
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([`${where}: could not read the private key from ${kindOf(input)}${code ? ` (${code})` : ''}`]);
  }
  if (key.type !== 'private') {
    throw new ConfigError([`${where}: expected a private key, got a ${key.type} key (the public key belongs on the Okta app, the private key here)`]);
  }
  let alg: 'RS256' | 'ES256';
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new ConfigError([`${where}: expected an RSA key of at least 2048 bits, got ${bits} bits`]);
    alg = 'RS256';
  } else if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') throw new ConfigError([`${where}: expected an EC key on curve P-256 (ES256), got curve ${curve ?? 'unknown'}`]);
    alg = 'ES256';
  } else {
    throw new ConfigError([`${where}: expected an RSA (RS256) or EC P-256 (ES256) private key, got a ${type ?? 'unknown'} key`]);
  }
  if (keyId !== undefined) kid = keyId;
  return { key, alg, kid };
}

function base64url(buf: Buffer): string {
  return buf.toString('base64url');
}

/** base64url(SHA-256(access token)): the DPoP `ath` claim. */
export function accessTokenHash(token: string): string {
  return base64url(createHash('sha256').update(token, 'ascii').digest());
}

/** htu: the request URL without query and fragment (RFC 9449 §4.2). */
export function htuOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** The DPoP key pair: EC P-256, made once per provider and never exported. */
class DpopKey {
  private readonly privateKey: KeyObject;
  readonly publicJwk: JWK;

  constructor() {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    const jwk = pair.publicKey.export({ format: 'jwk' });
    this.publicJwk = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
  }

  proof(method: string, url: string, extra: { nonce?: string; accessToken?: string }, nowSeconds: number): Promise<string> {
    const claims: Record<string, string> = { htm: method, htu: htuOf(url) };
    if (extra.nonce) claims.nonce = extra.nonce;
    if (extra.accessToken) claims.ath = accessTokenHash(extra.accessToken);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: this.publicJwk })
      .setIssuedAt(nowSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

class OAuthAuth implements OAuthProvider {
  readonly kind = 'oauth' as const;
  readonly algorithm: 'RS256' | 'ES256';
  tokenRequests = 0;
  private readonly signing: SigningKey;
  private readonly clientId: string;
  private readonly scope: string;
  private readonly tokenUrl: string;
  private readonly tokenOrigin: string;
  private readonly dispatcher: Dispatcher;
  /** The proxy in use (without credentials), for its refusals. */
  private readonly proxy: string | undefined;
  private readonly timeoutMs: number;
  private readonly dpop: DpopKey | undefined;
  private readonly now: () => number;
  private readonly warn: OAuthOptions['warn'];
  private readonly onSecret: OAuthOptions['onSecret'];
  private token: Token | undefined;
  /** Tokens issued by this provider (the last few), for secrets(). */
  private readonly issued: string[] = [];
  private inflight: Promise<Token> | undefined;
  private retryRefreshAfter = 0;
  private tokenNonce: string | undefined;
  private resourceNonce: string | undefined;

  constructor(opts: OAuthOptions) {
    const problems: string[] = [];
    if (typeof opts.clientId !== 'string' || !/^[\x21-\x7E]+$/.test(opts.clientId)) {
      problems.push(`clientId: expected the service app's client id (printable characters, no spaces), got ${typeof opts.clientId === 'string' ? JSON.stringify(opts.clientId) : typeof opts.clientId}`);
    }
    const scopes = Array.isArray(opts.scopes) ? opts.scopes : [];
    if (!scopes.length) problems.push('scopes: expected at least one scope, such as okta.users.manage, got none');
    for (const s of scopes) {
      if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) problems.push(`scopes: expected scope names without spaces or quotes, got ${JSON.stringify(s)}`);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      problems.push(`timeoutMs: expected a finite number of milliseconds > 0, got ${JSON.stringify(timeoutMs)}`);
    }
    if (opts.keyId !== undefined && (typeof opts.keyId !== 'string' || opts.keyId.trim() === '')) {
      problems.push(`keyId: expected a non-empty key id, got ${JSON.stringify(opts.keyId)}`);
    }
    let signing: SigningKey | undefined;
    try {
      signing = loadSigningKey(opts.privateKey, opts.keyId);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
    if (problems.length) throw new ConfigError(problems);
    const policy = new OriginPolicy(opts.orgUrl, { allowInsecureHttp: opts.allowInsecureHttp });
    this.tokenUrl = policy.requestTarget(TOKEN_PATH).url;
    this.tokenOrigin = policy.origin;
    const transport = createTransport(policy.origin, { connections: TOKEN_CONNECTIONS, timeoutMs }, opts);
    this.dispatcher = transport.dispatcher;
    this.proxy = transport.proxy?.display;
    this.signing = signing!;
    this.algorithm = signing!.alg;
    this.clientId = opts.clientId;
    this.scope = [...new Set(scopes)].join(' ');
    this.timeoutMs = timeoutMs;
    this.dpop = opts.dpop ? new DpopKey() : undefined;
    this.now = opts.now ?? Date.now;
    this.warn = opts.warn;
    this.onSecret = opts.onSecret;
  }

  get grantedScopes(): string[] | undefined {
    return this.token?.scopes;
  }

  secrets(): string[] {
    return [...this.issued];
  }

  invalidate(): void {
    this.token = undefined;
  }

  async headers(method: HttpMethod, url: string): Promise<Record<string, string>> {
    const token = await this.currentToken();
    const headers: Record<string, string> = { authorization: `${token.scheme} ${token.value}` };
    if (this.dpop && token.scheme === 'DPoP') {
      headers.dpop = await this.dpop.proof(method, url, { nonce: this.resourceNonce, accessToken: token.value }, this.seconds());
    }
    return headers;
  }

  async onUnauthorized(info: UnauthorizedInfo = {}): Promise<boolean> {
    const challenge = mainChallenge(info.wwwAuthenticate);
    if (challenge?.params.error === 'use_dpop_nonce') {
      if (!this.dpop || !info.dpopNonce || info.dpopNonce === this.resourceNonce) return false;
      this.resourceNonce = info.dpopNonce;
      return true;
    }
    const used = info.authorization?.replace(/^\S+\s+/, '');
    if (used && this.token && used !== this.token.value) return true; // already replaced by a concurrent refresh
    if (!this.inflight) this.token = undefined;
    await this.refresh();
    return true;
  }

  // ---- the token ----

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private async currentToken(): Promise<Token> {
    const t = this.token;
    const now = this.now();
    if (t && now < t.refreshAt) return t;
    const usable = t !== undefined && now < t.expiresAt - EXPIRY_MARGIN_MS;
    if (usable && now < this.retryRefreshAfter) return t;
    try {
      return await this.refresh();
    } catch (err) {
      if (usable && this.now() < t.expiresAt - EXPIRY_MARGIN_MS) {
        this.retryRefreshAfter = this.now() + REFRESH_RETRY_MS;
        this.warn?.(`Could not renew the OAuth access token early (${(err as Error).message}); using the current one until it expires`);
        return t;
      }
      throw err;
    }
  }

  /** Single flight: concurrent callers share one token request. */
  private refresh(): Promise<Token> {
    if (!this.inflight) {
      this.inflight = this.fetchToken()
        .then((token) => {
          this.token = token;
          this.retryRefreshAfter = 0;
          return token;
        })
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  private assertion(): Promise<string> {
    const iat = this.seconds();
    const header: { alg: string; typ: string; kid?: string } = { alg: this.signing.alg, typ: 'JWT' };
    if (this.signing.kid) header.kid = this.signing.kid;
    return new SignJWT({})
      .setProtectedHeader(header)
      .setIssuer(this.clientId)
      .setSubject(this.clientId)
      .setAudience(this.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.signing.key);
  }

  private async fetchToken(): Promise<Token> {
    // At most one retry, for a DPoP nonce the server asked for.
    for (let attempt = 0; ; attempt++) {
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        scope: this.scope,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await this.assertion(),
      }).toString();
      const headers: Record<string, string> = {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': USER_AGENT,
      };
      if (this.dpop) headers.dpop = await this.dpop.proof('POST', this.tokenUrl, { nonce: this.tokenNonce }, this.seconds());
      this.tokenRequests++;
      const sentAt = this.now();
      let status: number;
      let resHeaders: Record<string, string | string[] | undefined>;
      let text: string;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new RequestTimeout(this.timeoutMs)), this.timeoutMs);
      try {
        // undici's request() never follows redirects: a Location elsewhere is not contacted.
        const res = await this.dispatcher.request({
          origin: this.tokenOrigin,
          path: TOKEN_PATH,
          method: 'POST',
          headers,
          body,
          signal: controller.signal,
        });
        status = res.statusCode;
        resHeaders = res.headers;
        text = await readCapped(res.body, res.headers['content-length'], BODY_CAPS.oauth, { bucket: 'oauth', method: 'POST', path: TOKEN_PATH });
      } catch (err) {
        const net = toNetworkError(err, 'POST', TOKEN_PATH, this.timeoutMs, this.proxy);
        if (net) throw net;
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const nonce = firstHeader(resHeaders['dpop-nonce']);
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const error = isObject(json) && typeof json.error === 'string' ? json.error : undefined;
      if (this.dpop && nonce) this.tokenNonce = nonce;
      if (status === 400 && error === 'use_dpop_nonce' && this.dpop && nonce && attempt === 0) continue;
      if (status === 200) return this.toToken(json, sentAt);
      throw this.tokenError(status, resHeaders, json, text.length);
    }
  }

  private toToken(json: unknown, sentAt: number): Token {
    const bad = (what: string) => new OktaProtocolError(`the token endpoint answered 200 without ${what}`, 'POST', TOKEN_PATH);
    if (!isObject(json)) throw bad('a JSON object');
    const value = json.access_token;
    if (typeof value !== 'string' || value === '' || /\s/.test(value)) throw bad('an access_token');
    this.issued.push(value);
    if (this.issued.length > 4) this.issued.shift();
    this.onSecret?.(value);
    const type = typeof json.token_type === 'string' ? json.token_type.toLowerCase() : '';
    if (type !== 'bearer' && type !== 'dpop') throw bad(`a token_type of Bearer or DPoP (got ${JSON.stringify(String(json.token_type).slice(0, 20))})`);
    if (type === 'dpop' && !this.dpop) throw bad('a Bearer token (it issued a DPoP-bound token to a client that sent no DPoP proof)');
    if (type === 'bearer' && this.dpop) {
      this.warn?.('DPoP was asked for but the token endpoint issued a plain Bearer token; sending it as Bearer (the app does not require DPoP)');
    }
    const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : Number(json.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) throw bad('a positive expires_in');
    const ttlMs = expiresIn * 1000;
    const scopes = typeof json.scope === 'string' ? json.scope.split(/\s+/).filter(Boolean) : undefined;
    return {
      value,
      scheme: type === 'dpop' ? 'DPoP' : 'Bearer',
      refreshAt: sentAt + ttlMs * REFRESH_AT,
      expiresAt: sentAt + ttlMs,
      scopes,
    };
  }

  private tokenError(status: number, headers: Record<string, string | string[] | undefined>, json: unknown, length: number): OktaApiError {
    const rateLimit = parseRateLimit(headers);
    let code = `HTTP_${status}`;
    let summary = `the token endpoint answered ${status}${length ? ` with a body of ${length} characters that is not an OAuth error` : ''}`;
    if (isObject(json)) {
      if (typeof json.error === 'string') {
        code = json.error;
        const description = typeof json.error_description === 'string' ? this.scrub(json.error_description) : '';
        summary = `the token endpoint refused the service app ${this.clientId}${description ? `: ${description}` : ''}`;
        if (code === 'invalid_scope') summary += ` (requested: ${this.scope}; grant these scopes to the app under Okta API Scopes)`;
        if (code === 'invalid_dpop_proof' && !this.dpop) summary += ' (the app requires DPoP: pass --dpop, or turn off "Require Demonstrating Proof of Possession" on the app)';
      } else if (typeof json.errorCode === 'string') {
        code = json.errorCode;
        summary = typeof json.errorSummary === 'string' ? this.scrub(json.errorSummary) : summary;
      }
    }
    const requestId = firstHeader(headers['x-okta-request-id']);
    return new OktaApiError(status, code, summary, [], requestId, 'POST', TOKEN_PATH, rateLimit, status === 429 ? classifyRateLimit(rateLimit) : undefined);
  }

  private scrub(text: string): string {
    // Issued tokens, and any echoed start of one (8 characters or more).
    let out = maskSecrets(text.slice(0, 500), this.issued);
    // An echoed JWT (assertion or proof) never goes further.
    return out.replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, '[REDACTED-JWT]');
  }
}

/** OAuth 2.0 service-app credentials (client credentials + private_key_jwt, optional DPoP). */
export function oauthAuth(opts: OAuthOptions): OAuthProvider {
  return new OAuthAuth(opts);
}
