/**
 * src/redact.ts: registered secrets masked whole and by any echoed prefix of 8 or more
 * characters (a server that echoes the start of the token), credential-shaped strings,
 * URLs with credentials; the logger's re-export is the same function.
 */
import { describe, expect, it } from 'vitest';
import { redact as loggerRedact, registerSecret as loggerRegister } from '../../src/logger.js';
import { maskSecrets, MIN_PREFIX, redact, registerSecret } from '../../src/redact.js';

const SECRET = '00RedactTestSecretAbCdEfGhIjKlMnOpQrStUv';

describe('maskSecrets', () => {
  it('masks the whole secret and every run of 8+ characters that starts it, as far as it matches', () => {
    expect(MIN_PREFIX).toBe(8);
    expect(maskSecrets(`a ${SECRET} b`, [SECRET])).toBe('a [REDACTED] b');
    expect(maskSecrets(`echo: ${SECRET.slice(0, 16)}...`, [SECRET])).toBe('echo: [REDACTED]...');
    expect(maskSecrets(`x${SECRET.slice(0, 8)}ZZZ`, [SECRET])).toBe('x[REDACTED]ZZZ');
    expect(maskSecrets(`twice ${SECRET.slice(0, 9)} and ${SECRET.slice(0, 20)}!`, [SECRET])).toBe('twice [REDACTED] and [REDACTED]!');
  });

  it('leaves 7 characters of a prefix, and other parts of the secret, alone', () => {
    expect(maskSecrets(`${SECRET.slice(0, 7)}`, [SECRET])).toBe(SECRET.slice(0, 7));
    expect(maskSecrets(SECRET.slice(10, 30), [SECRET])).toBe(SECRET.slice(10, 30));
  });

  it('a PEM or JWK text is masked whole, but its shared opening is not taken for a secret', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    const jwk = '{"kty":"EC","crv":"P-256","d":"c2VjcmV0LWQtdmFsdWUtaGVyZQ"}';
    expect(maskSecrets(`key ${pem}`, [pem, jwk])).toBe('key [REDACTED]');
    expect(maskSecrets('-----BEGIN CERTIFICATE-----', [pem])).toBe('-----BEGIN CERTIFICATE-----');
    expect(maskSecrets('{"kty":"EC","crv":"P-256","x":"pub"}', [jwk])).toBe('{"kty":"EC","crv":"P-256","x":"pub"}');
  });
});

describe('redact', () => {
  it('masks registered secrets and their echoed prefixes; the logger re-exports the same functions', () => {
    registerSecret(SECRET);
    expect(redact(`summary: invalid token ${SECRET.slice(0, 16)}`)).toBe('summary: invalid token [REDACTED]');
    expect(loggerRedact).toBe(redact);
    expect(loggerRegister).toBe(registerSecret);
    loggerRegister('short');
    expect(redact('short words stay')).toBe('short words stay');
  });

  it('masks credential shapes: SSWS / Bearer values, URLs with a password', () => {
    expect(redact('Authorization: SSWS 00abc')).not.toContain('00abc');
    expect(redact('via http://bob:pa55word@proxy.corp:3128 now')).toBe('via http://[REDACTED]@proxy.corp:3128 now');
    expect(redact('redis://:hunter2@redis.internal:6379/0')).toBe('redis://[REDACTED]@redis.internal:6379/0');
    expect(redact('https://acme.okta.com:443/api/v1/users')).toBe('https://acme.okta.com:443/api/v1/users');
  });
});
