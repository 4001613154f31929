/**
 * The org authorization server of an OAuth 2.0 service app, as the simulator plays it:
 *
 * - `POST /oauth2/v1/token`, client credentials with a `private_key_jwt` client
 *   assertion verified against the configured public key and client id: signature,
 *   iss = sub = client id, aud = the token URL, exp not past and at most one hour
 *   ahead, jti present and never seen before. Failures of client authentication are
 *   401 `invalid_client` (RFC 6749 §5.2; Okta's answer to a bad assertion); a bad
 *   grant or scope request is 400 (`unsupported_grant_type`, `invalid_scope`,
 *   `invalid_request`).
 * - Opaque access tokens holding the granted scopes (requested ∩ allowed) and a TTL.
 *   `expires_in` is in seconds and may be fractional when the TTL is scaled for tests.
 * - Optional DPoP (RFC 9449): a proof on the token request (else 400
 *   `invalid_dpop_proof`), nonces demanded (400 `use_dpop_nonce` + DPoP-Nonce at the
 *   token endpoint; 401 + `WWW-Authenticate: DPoP error="use_dpop_nonce"` on the API),
 *   tokens bound to the proof key's thumbprint, `ath` checked on every API request.
 * - API requests with `Bearer` / `DPoP` tokens: unknown or expired → 401 E0000011;
 *   a scope the endpoint needs (the spec's `security`) missing → 403 E0000006 with
 *   `WWW-Authenticate: Bearer error="insufficient_scope", …, scope="…"`.
 *
 * Token values are never kept in the request log or the stats.
 */
import { createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { SimHttpError } from './okta-errors.js';

export const TOKEN_PATH = '/oauth2/v1/token';
export const ALL_SCOPES: readonly string[] = Object.freeze(['okta.users.manage', 'okta.users.read', 'okta.groups.read', 'okta.logs.read']);
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_AHEAD_S = 3600;
/** A DPoP proof's iat may be this far from the server's clock. */
const PROOF_WINDOW_S = 60;
const SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

export interface OAuthSimSettings {
  clientId: string;
  /** PEM (public or private; the public half is used) or JWK JSON text. */
  publicKey: string;
  scopes: readonly string[];
  tokenTtlMs: number;
  dpop: boolean;
}

export interface OAuthStats {
  tokenRequests: number;
  tokensIssued: number;
  /** Refused token requests by OAuth error (invalid_client, use_dpop_nonce, …). */
  tokenErrors: Record<string, number>;
  /** API requests refused by reason (invalid_token, expired_token, insufficient_scope, use_dpop_nonce, invalid_dpop_proof). */
  apiRejections: Record<string, number>;
  /** Tokens not yet expired or revoked. */
  activeTokens: number;
  /** Assertions (jti) seen and remembered. */
  assertionsSeen: number;
  dpop: boolean;
}

interface IssuedToken {
  scopes: string[];
  expiresAt: number;
  /** DPoP key thumbprint the token is bound to. */
  jkt?: string;
  issuedAt: number;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Who the API request is, when it carried a Bearer / DPoP token. */
export interface OAuthPrincipal {
  scopes: string[];
  scheme: 'Bearer' | 'DPoP';
}

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

/** Reads the configured key; throws ConfigError naming the option. */
export function readPublicKey(text: string, name = 'oauthPublicKey'): KeyObject {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      // A private JWK works too: keep only the public members.
      const pub: Record<string, unknown> = {};
      for (const k of ['kty', 'n', 'e', 'crv', 'x', 'y']) if (jwk[k] !== undefined) pub[k] = jwk[k];
      return createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
    }
    if (trimmed.includes('-----BEGIN')) return createPublicKey(trimmed);
  } catch {
    throw new ConfigError([`Expected \`${name}\` to be a PEM or JWK public key, got text that is not a readable key`]);
  }
  throw new ConfigError([`Expected \`${name}\` to be a PEM (-----BEGIN PUBLIC KEY-----) or JWK public key, got ${trimmed ? 'other text' : 'nothing'}`]);
}

function b64urlSha256(text: string): string {
  return createHash('sha256').update(text, 'ascii').digest('base64url');
}

function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

const quote = (s: string) => s.replace(/["\\]/g, '\\$&');

export class OAuthServer {
  private readonly key: KeyObject;
  private readonly keyAlgs: string[];
  private readonly tokens = new Map<string, IssuedToken>();
  /** jti → the assertion's exp (ms): kept until then. */
  private readonly assertionJtis = new Map<string, number>();
  private readonly proofJtis = new Map<string, number>();
  private tokenNonces: [string, string];
  private resourceNonces: [string, string];
  readonly stats = { tokenRequests: 0, tokensIssued: 0, tokenErrors: {} as Record<string, number>, apiRejections: {} as Record<string, number> };

  constructor(
    readonly settings: OAuthSimSettings,
    /** Origins the simulator answers as (its own URL, linkBase): aud / htu may name any of them. */
    private readonly origins: () => string[],
  ) {
    this.key = readPublicKey(settings.publicKey);
    const type = this.key.asymmetricKeyType;
    this.keyAlgs = type === 'rsa' ? ['RS256', 'RS384', 'RS512'] : type === 'ec' ? ['ES256', 'ES384', 'ES512'] : [];
    this.tokenNonces = [newNonce(), newNonce()];
    this.resourceNonces = [newNonce(), newNonce()];
  }

  snapshot(now: number): OAuthStats {
    this.prune(now);
    return {
      tokenRequests: this.stats.tokenRequests,
      tokensIssued: this.stats.tokensIssued,
      tokenErrors: { ...this.stats.tokenErrors },
      apiRejections: { ...this.stats.apiRejections },
      activeTokens: this.tokens.size,
      assertionsSeen: this.assertionJtis.size,
      dpop: this.settings.dpop,
    };
  }

  resetStats(): void {
    this.stats.tokenRequests = 0;
    this.stats.tokensIssued = 0;
    this.stats.tokenErrors = {};
    this.stats.apiRejections = {};
  }

  /** Every issued token stops working (the next API call with one gets 401). */
  revokeTokens(): number {
    const n = this.tokens.size;
    this.tokens.clear();
    return n;
  }

  /** New DPoP nonces; the previous ones stop being accepted. */
  rotateNonces(): void {
    this.tokenNonces = [newNonce(), newNonce()];
    this.resourceNonces = [newNonce(), newNonce()];
  }

  // ---- the token endpoint --------------------------------------------------------------

  async token(req: { contentType: string | undefined; body: string; dpop: string | string[] | undefined; now: number }): Promise<TokenAnswer> {
    this.stats.tokenRequests++;
    try {
      const answer = await this.issue(req);
      this.stats.tokensIssued++;
      return answer;
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      bump(this.stats.tokenErrors, err.error);
      return { status: err.status, body: { error: err.error, error_description: err.description }, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...err.headers } };
    }
  }

  private tokenUrls(): string[] {
    return this.origins().map((o) => `${o}${TOKEN_PATH}`);
  }

  private async issue(req: { contentType: string | undefined; body: string; dpop: string | string[] | undefined; now: number }): Promise<TokenAnswer> {
    const { now } = req;
    this.prune(now);
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.contentType ?? '')) {
      throw new OAuthError(400, 'invalid_request', `Expected Content-Type application/x-www-form-urlencoded, got ${req.contentType ? `"${req.contentType}"` : 'none'}.`);
    }
    const form = new URLSearchParams(req.body);
    const grant = form.get('grant_type');
    if (!grant) throw new OAuthError(400, 'invalid_request', 'The grant_type parameter is required.');
    if (grant !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type', `The grant type '${grant}' is not supported by this client; expected client_credentials.`);

    const assertionType = form.get('client_assertion_type');
    const assertion = form.get('client_assertion');
    if (!assertion || !assertionType) throw new OAuthError(401, 'invalid_client', 'No client credentials found (expected client_assertion and client_assertion_type).');
    if (assertionType !== ASSERTION_TYPE) throw new OAuthError(401, 'invalid_client', `The client_assertion_type must be ${ASSERTION_TYPE}.`);
    const clientIdParam = form.get('client_id');
    if (clientIdParam !== null && clientIdParam !== this.settings.clientId) throw new OAuthError(401, 'invalid_client', 'The client_id does not match the client_assertion.');

    // DPoP proof first checked for shape, so a missing nonce does not burn the assertion's jti.
    let jkt: string | undefined;
    if (this.settings.dpop) {
      jkt = await this.checkProof(req.dpop, 'POST', this.tokenUrls(), now, this.tokenNonces, 'token');
    }

    const { exp, jti } = await this.verifyAssertion(assertion, now);
    this.assertionJtis.set(jti, exp * 1000);

    const requested = (form.get('scope') ?? '').split(/\s+/).filter(Boolean);
    if (!requested.length) throw new OAuthError(400, 'invalid_scope', 'The authorization server requires the scope parameter for the client_credentials grant.');
    const granted = [...new Set(requested)].filter((s) => this.settings.scopes.includes(s));
    if (!granted.length) {
      throw new OAuthError(400, 'invalid_scope', `None of the requested scopes are granted to the client: ${requested.join(' ')}.`);
    }

    const value = `sim_at_${randomBytes(30).toString('base64url')}`;
    const token: IssuedToken = { scopes: granted, expiresAt: now + this.settings.tokenTtlMs, issuedAt: now };
    if (jkt) token.jkt = jkt;
    this.tokens.set(value, token);
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    if (this.settings.dpop) headers['DPoP-Nonce'] = this.tokenNonces[1];
    return {
      status: 200,
      headers,
      body: {
        token_type: jkt ? 'DPoP' : 'Bearer',
        expires_in: this.settings.tokenTtlMs / 1000,
        access_token: value,
        scope: granted.join(' '),
      },
    };
  }

  private async verifyAssertion(assertion: string, now: number): Promise<{ exp: number; jti: string }> {
    const invalid = (description: string) => new OAuthError(401, 'invalid_client', description);
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(assertion).alg;
    } catch {
      throw invalid('The client_assertion is not a JWT.');
    }
    if (!alg || !this.keyAlgs.includes(alg)) {
      throw invalid(`The client_assertion must be signed with ${this.keyAlgs.join(', ') || 'the registered key'}, got ${alg ?? 'no alg'}.`);
    }
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(assertion, this.key, {
        algorithms: this.keyAlgs,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
      });
      payload = result.payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw invalid('The client_assertion token is expired.');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('The client_assertion signature is invalid.');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw invalid(`The client_assertion token's '${err.claim}' claim is invalid (${err.reason}).`);
      throw invalid('The client_assertion is not a valid signed JWT.');
    }
    const { iss, sub, aud, exp, jti } = payload;
    const { clientId } = this.settings;
    if (iss !== clientId || sub !== clientId) throw invalid(`The client_assertion 'iss' and 'sub' claims must both be the client_id ${clientId}.`);
    const audiences = Array.isArray(aud) ? aud : [aud];
    const urls = this.tokenUrls();
    if (!audiences.some((a) => typeof a === 'string' && urls.includes(a))) {
      throw invalid(`The audience claim for client_assertion must be the endpoint invoked for the request (${urls[0]}).`);
    }
    if (typeof exp !== 'number') throw invalid("The client_assertion must contain a numeric 'exp' claim.");
    if (exp - now / 1000 > MAX_ASSERTION_AHEAD_S) throw invalid('The client_assertion token has an expiration too far into the future.');
    if (typeof jti !== 'string' || jti === '') throw invalid("The client_assertion must contain a 'jti' claim.");
    if (this.assertionJtis.has(jti)) throw invalid("The client_assertion token has already been used (its 'jti' was seen before).");
    return { exp, jti };
  }

  /**
   * Verifies a DPoP proof; returns the key's thumbprint. Throws OAuthError in the form
   * the caller (token endpoint 400 / API 401) turns into its answer.
   */
  private async checkProof(
    header: string | string[] | undefined,
    method: string,
    urls: string[],
    now: number,
    nonces: [string, string],
    where: 'token' | 'api',
    accessToken?: string,
  ): Promise<string> {
    const status = where === 'token' ? 400 : 401;
    const invalid = (description: string) =>
      new OAuthError(status, 'invalid_dpop_proof', description, where === 'api' ? { 'WWW-Authenticate': `DPoP error="invalid_dpop_proof", error_description="${quote(description)}"` } : {});
    if (header === undefined) throw invalid('The DPoP proof JWT header is missing.');
    if (Array.isArray(header)) throw invalid('Expected one DPoP header, got several.');
    let payload: Record<string, unknown>;
    let jwk: JWK;
    try {
      const result = await jwtVerify(header, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: SIGNING_ALGS, currentDate: new Date(now) });
      payload = result.payload as Record<string, unknown>;
      jwk = result.protectedHeader.jwk as JWK;
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('The DPoP proof signature is invalid.');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'typ') throw invalid("The DPoP proof 'typ' header must be dpop+jwt.");
      throw invalid('The DPoP proof is not a valid signed JWT with an embedded public jwk.');
    }
    if (!jwk || 'd' in jwk) throw invalid("The DPoP proof 'jwk' header must be a public key.");
    if (payload.htm !== method) throw invalid(`The DPoP proof 'htm' claim must be ${method}.`);
    if (typeof payload.htu !== 'string' || !urls.includes(payload.htu)) throw invalid(`The DPoP proof 'htu' claim must be ${urls[0]}.`);
    const iat = payload.iat;
    if (typeof iat !== 'number' || Math.abs(iat - now / 1000) > PROOF_WINDOW_S) throw invalid("The DPoP proof 'iat' claim is missing or too far from the current time.");
    const jti = payload.jti;
    if (typeof jti !== 'string' || !jti) throw invalid("The DPoP proof must contain a 'jti' claim.");
    if (accessToken !== undefined && payload.ath !== b64urlSha256(accessToken)) throw invalid("The DPoP proof 'ath' claim does not match the access token.");
    if (typeof payload.nonce !== 'string' || !nonces.includes(payload.nonce)) {
      const description = where === 'token' ? 'Authorization server requires nonce in DPoP proof.' : 'Resource server requires nonce in DPoP proof.';
      const headers: Record<string, string> = { 'DPoP-Nonce': nonces[1] };
      if (where === 'api') headers['WWW-Authenticate'] = `DPoP error="use_dpop_nonce", error_description="${description}"`;
      throw new OAuthError(status, 'use_dpop_nonce', description, headers);
    }
    if (this.proofJtis.has(jti)) throw invalid("The DPoP proof 'jti' was used before.");
    this.proofJtis.set(jti, now + 2 * PROOF_WINDOW_S * 1000);
    return calculateJwkThumbprint(jwk, 'sha256');
  }

  // ---- API requests ------------------------------------------------------------------------

  /** Whether this Authorization header is one this server deals with. */
  static handles(authorization: string | undefined): boolean {
    return authorization !== undefined && /^(Bearer|DPoP)\s+\S/i.test(authorization);
  }

  /**
   * Checks a Bearer / DPoP token on an API request (the scope is checked later, once the
   * route is known: scopeError()). Throws SimHttpError for the 401 answers.
   */
  async authenticate(req: { authorization: string; dpop: string | string[] | undefined; method: string; path: string; now: number }): Promise<OAuthPrincipal> {
    const m = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(req.authorization);
    const scheme = m?.[1]?.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const unauthorized = (reason: string, error: string, description: string, extra: Record<string, string> = {}) => {
      bump(this.stats.apiRejections, reason);
      return new SimHttpError(401, 'E0000011', 'Invalid token provided', [], {
        'WWW-Authenticate': `${scheme} error="${error}", error_description="${quote(description)}"`,
        ...extra,
      });
    };
    if (!m) throw unauthorized('invalid_token', 'invalid_token', 'The access token is malformed.');
    const value = m[2]!;
    const token = this.tokens.get(value);
    if (!token) throw unauthorized('invalid_token', 'invalid_token', 'The access token is invalid.');
    if (req.now >= token.expiresAt) {
      this.tokens.delete(value);
      throw unauthorized('expired_token', 'invalid_token', 'The access token is expired.');
    }
    if (token.jkt) {
      if (scheme !== 'DPoP') throw unauthorized('invalid_token', 'invalid_token', 'The access token is DPoP-bound; send it as Authorization: DPoP with a DPoP proof.');
      const urls = this.origins().map((o) => `${o}${req.path}`);
      let jkt: string;
      try {
        jkt = await this.checkProof(req.dpop, req.method, urls, req.now, this.resourceNonces, 'api', value);
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        bump(this.stats.apiRejections, err.error);
        throw new SimHttpError(401, 'E0000011', 'Invalid token provided', [err.description], err.headers);
      }
      if (jkt !== token.jkt) throw unauthorized('invalid_dpop_proof', 'invalid_dpop_proof', 'The DPoP proof key does not match the key the access token is bound to.');
    } else if (scheme === 'DPoP') {
      throw unauthorized('invalid_token', 'invalid_token', 'The access token is not DPoP-bound; send it as Authorization: Bearer.');
    }
    return { scopes: token.scopes, scheme };
  }

  /** 403 with the scope the endpoint needs, or undefined when the token has it. */
  scopeError(principal: OAuthPrincipal, scope: string | undefined): SimHttpError | undefined {
    if (!scope || principal.scopes.includes(scope)) return undefined;
    bump(this.stats.apiRejections, 'insufficient_scope');
    return new SimHttpError(403, 'E0000006', 'You do not have permission to perform the requested action', [], {
      'WWW-Authenticate': `${principal.scheme} error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope="${scope}"`,
    });
  }

  private prune(now: number): void {
    for (const [k, t] of this.tokens) if (now >= t.expiresAt) this.tokens.delete(k);
    for (const [k, exp] of this.assertionJtis) if (now > exp + 60_000) this.assertionJtis.delete(k);
    for (const [k, exp] of this.proofJtis) if (now > exp) this.proofJtis.delete(k);
  }
}
