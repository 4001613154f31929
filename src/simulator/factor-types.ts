/**
 * The factor types the simulated org knows (the spec's UserFactorType enum), and what
 * belongs to each: the id prefix, the provider a factor of that type has when the org
 * creates it itself (traits, the Okta Verify bundle), and the authenticator's name as
 * the System Log's AuthenticatorEnrollment target shows it. Only ENROLLABLE types can
 * be enrolled through the Factors API; the others appear when a user sets them up.
 */

export const FACTOR_TYPES = [
  'push',
  'sms',
  'call',
  'email',
  'token:software:totp',
  'signed_nonce',
  'question',
  'webauthn',
  'u2f',
  'token',
  'token:hardware',
  'token:hotp',
  'web',
] as const;

export type FactorType = (typeof FACTOR_TYPES)[number];

/** What POST /api/v1/users/{userId}/factors accepts (signed_nonce, for one, cannot be enrolled through the API). */
export const ENROLLABLE: FactorType[] = ['push', 'sms', 'call', 'email', 'token:software:totp'];

/** Okta Verify's factors: deleting one push or signed_nonce deletes them all (unenrollFactor). */
export const OKTA_VERIFY_TYPES: FactorType[] = ['push', 'token:software:totp', 'signed_nonce'];

interface TypeInfo {
  prefix: string;
  provider: string;
  authenticator: string;
}

const INFO: Record<FactorType, TypeInfo> = {
  push: { prefix: 'opf', provider: 'OKTA', authenticator: 'Okta Verify' },
  sms: { prefix: 'mbl', provider: 'OKTA', authenticator: 'Phone' },
  call: { prefix: 'clf', provider: 'OKTA', authenticator: 'Phone' },
  email: { prefix: 'emf', provider: 'OKTA', authenticator: 'Email' },
  'token:software:totp': { prefix: 'ost', provider: 'OKTA', authenticator: 'Okta Verify' },
  signed_nonce: { prefix: 'crp', provider: 'OKTA', authenticator: 'Okta Verify' },
  question: { prefix: 'ufs', provider: 'OKTA', authenticator: 'Security Question' },
  webauthn: { prefix: 'fwf', provider: 'FIDO', authenticator: 'Security Key or Biometric' },
  u2f: { prefix: 'fuf', provider: 'FIDO', authenticator: 'Security Key or Biometric' },
  token: { prefix: 'rsa', provider: 'RSA', authenticator: 'RSA SecurID' },
  'token:hardware': { prefix: 'ykf', provider: 'YUBICO', authenticator: 'YubiKey' },
  'token:hotp': { prefix: 'chf', provider: 'CUSTOM', authenticator: 'Custom OTP' },
  web: { prefix: 'dsf', provider: 'DUO', authenticator: 'Duo Security' },
};

export function isFactorType(v: unknown): v is FactorType {
  return typeof v === 'string' && (FACTOR_TYPES as readonly string[]).includes(v);
}

export function idPrefix(t: FactorType): string {
  return INFO[t].prefix;
}

export function defaultProvider(t: FactorType): string {
  return INFO[t].provider;
}

/** The AuthenticatorEnrollment target's displayName for a factor of this type. */
export function authenticatorName(t: FactorType): string {
  return INFO[t].authenticator;
}
