/**
 * Which request-body properties the current spec (factors-openapi-excerpt.yaml) defines
 * for each operation the simulator answers, so that `strictBodies` can refuse the others
 * (400 E0000003) as an org with a strict reader does. Read-only properties of UserFactor
 * (id, status, created, …) are defined, so sending them back is allowed.
 */
import { isFactorType } from './factor-types.js';

export type Operation = 'enrollFactor' | 'activateFactor' | 'pollActivation' | 'sendActivationEmail' | 'sendActivationSms';

/** A node: the properties allowed at this level, and for object-valued ones the node below (undefined: anything). */
interface Allowed {
  [property: string]: Allowed | undefined;
}

// UserFactor, the enroll body's schema.
const USER_FACTOR: Allowed = {
  id: undefined,
  factorType: undefined,
  provider: undefined,
  status: undefined,
  created: undefined,
  lastUpdated: undefined,
  vendorName: undefined,
  _embedded: undefined,
  _links: undefined,
};

// The profile of each subtype (UserFactorPushProfile, UserFactorSMSProfile, …). The excerpt stubs
// the TOTP subtype; its profile is what the spec's examples show.
const PROFILES: Record<string, Allowed> = {
  push: { credentialId: undefined, deviceToken: undefined, deviceType: undefined, name: undefined, platform: undefined, version: undefined },
  sms: { phoneNumber: undefined },
  call: { phoneNumber: undefined, phoneExtension: undefined },
  email: { email: undefined },
  'token:software:totp': { credentialId: undefined },
};

// UserFactorActivateRequest: useNumberMatchingChallenge for push, passCode for the OTP factors.
const ACTIVATE_PUSH: Allowed = { useNumberMatchingChallenge: undefined };
const ACTIVATE_OTP: Allowed = { passCode: undefined };

function allowedFor(op: Operation, body: Record<string, unknown>, factorType: string | undefined): Allowed {
  switch (op) {
    case 'enrollFactor': {
      const t = typeof body.factorType === 'string' ? body.factorType : undefined;
      return { ...USER_FACTOR, profile: t && isFactorType(t) ? PROFILES[t] : undefined };
    }
    case 'activateFactor':
      // An unknown factor: either shape passes here, the handler answers 404.
      return factorType === 'push' ? ACTIVATE_PUSH : factorType === undefined ? { ...ACTIVATE_PUSH, ...ACTIVATE_OTP } : ACTIVATE_OTP;
    case 'sendActivationSms':
      // The older reference's "send activation links": {profile: {phoneNumber}} for an SMS.
      return { profile: { phoneNumber: undefined } };
    default:
      return {};
  }
}

/**
 * Paths of the body's properties the spec does not define for `op` (e.g. `deviceType`,
 * `profile.deviceName` on a push enroll). `factorType`: the factor's type, for operations
 * on an existing factor. A body that is not an object is left to the handler.
 */
export function undefinedProperties(op: Operation, body: unknown, factorType?: string): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const out: string[] = [];
  const walk = (value: Record<string, unknown>, allowed: Allowed, prefix: string): void => {
    for (const [k, v] of Object.entries(value)) {
      if (!(k in allowed)) {
        out.push(prefix + k);
        continue;
      }
      const below = allowed[k];
      if (below && v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, below, `${prefix}${k}.`);
    }
  };
  const b = body as Record<string, unknown>;
  walk(b, allowedFor(op, b, factorType), '');
  return out;
}
