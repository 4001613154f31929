/**
 * Okta API token authentication: `Authorization: SSWS <token>`. The header object is
 * built once and shared by every request.
 */
import type { AuthProvider } from './types.js';

export function sswsAuth(token: string): AuthProvider {
  const trimmed = typeof token === 'string' ? token.trim() : '';
  if (!trimmed) {
    throw new TypeError(`Expected an Okta API token (a non-empty string), got ${token === '' ? 'an empty string' : typeof token}`);
  }
  if (/\s/.test(trimmed)) {
    throw new TypeError('Expected an Okta API token without whitespace inside, got a value containing whitespace');
  }
  const headers: Readonly<Record<string, string>> = Object.freeze({ authorization: `SSWS ${trimmed}` });
  const resolved = Promise.resolve(headers as Record<string, string>);
  return {
    kind: 'ssws',
    headers: () => resolved,
    secrets: () => [trimmed],
  };
}
