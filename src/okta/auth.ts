/**
 * Picks the AuthProvider a process uses from its settings: an SSWS API token, or an
 * OAuth 2.0 service app (client credentials + private_key_jwt, optional DPoP).
 * Every credential is handed to `onSecret` (the log redactor) before anything is sent:
 * the API token, the private key text and its private JWK members, and each access
 * token as it is issued.
 */
import { ConfigError } from '../errors.js';
import { oauthAuth } from './auth-oauth.js';
import { sswsAuth } from './auth-ssws.js';
import type { AuthProvider } from './types.js';

export interface AuthSettings {
  orgUrl: string;
  authMode: 'ssws' | 'oauth';
  /** SSWS API token (authMode ssws). */
  token?: string;
  /** Service app (authMode oauth). */
  oauth?: {
    clientId: string;
    /** PEM or JWK JSON text. */
    privateKey: string;
    keyId?: string;
    scopes: string[];
    dpop: boolean;
  };
  requestTimeoutMs?: number;
  allowInsecureHttp?: boolean;
  /** Forward proxy of the token request (as OktaClientOptions.proxy; undefined: the environment). */
  proxy?: string | false;
  /** Extra CA certificates (PEM), as OktaClientOptions.ca. */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

export interface AuthHooks {
  warn?: (message: string, meta?: Record<string, unknown>) => void;
  /** Called with every string that must never be logged. */
  onSecret?: (secret: string) => void;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** The private key's text and, for a JWK, its private members: what the redactor must know. */
function keySecrets(text: string): string[] {
  const out = [text, text.trim()];
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      for (const m of PRIVATE_JWK_MEMBERS) if (typeof jwk[m] === 'string') out.push(jwk[m]);
    } catch {
      // not JSON: loadSigningKey reports it
    }
  } else {
    // The base64 body of a PEM, line by line and joined, so a re-wrapped copy is masked too.
    const body = trimmed.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    if (body) out.push(body);
    for (const line of trimmed.split(/\r?\n/)) if (!line.startsWith('-----') && line.trim().length >= 16) out.push(line.trim());
  }
  return out;
}

export function createAuth(settings: AuthSettings, hooks: AuthHooks = {}): AuthProvider {
  const { onSecret } = hooks;
  if (settings.authMode === 'oauth') {
    const o = settings.oauth;
    if (!o) throw new ConfigError(['--auth oauth: expected the service app settings (--client-id, --private-key), got none']);
    for (const s of keySecrets(o.privateKey)) onSecret?.(s);
    return oauthAuth({
      orgUrl: settings.orgUrl,
      clientId: o.clientId,
      privateKey: o.privateKey,
      ...(o.keyId !== undefined ? { keyId: o.keyId } : {}),
      scopes: o.scopes,
      dpop: o.dpop,
      ...(settings.requestTimeoutMs !== undefined ? { timeoutMs: settings.requestTimeoutMs } : {}),
      ...(settings.allowInsecureHttp !== undefined ? { allowInsecureHttp: settings.allowInsecureHttp } : {}),
      ...(settings.proxy !== undefined ? { proxy: settings.proxy } : {}),
      ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
      ...(hooks.warn ? { warn: hooks.warn } : {}),
      ...(onSecret ? { onSecret } : {}),
    });
  }
  if (settings.authMode !== 'ssws') {
    throw new ConfigError([`--auth: expected ssws or oauth, got ${JSON.stringify(settings.authMode)}`]);
  }
  const auth = sswsAuth(settings.token ?? '');
  for (const s of auth.secrets()) onSecret?.(s);
  return auth;
}
