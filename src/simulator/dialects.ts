/**
 * What the simulator's answers look like, field for field, in its two dialects:
 *  - okta: today's Management API (factors-openapi-excerpt.yaml): 200 on enroll,
 *    `_embedded.activation`, POST poll answering WAITING / TIMEOUT / the ACTIVE factor.
 *  - seed: the seed document (seed-push-factor-api.txt): 301 + Location on enroll,
 *    `_embedded.install`, GET poll on the factor, ACTIVATED / EXPIRED, `"null"` strings.
 * Users, groups and errors look the same in both.
 */
import { iso } from './clock.js';
import type { Factor } from './factors.js';
import type { SimGroup, SimUser } from './directory.js';
import type { Dialect } from './options.js';

type Method = 'GET' | 'POST' | 'DELETE';
export interface Link {
  name?: string;
  href: string;
  hints: { allow: Method[] };
}
type Json = Record<string, unknown>;

function link(href: string, ...allow: Method[]): Link {
  return { href, hints: { allow } };
}

export class Render {
  constructor(
    readonly dialect: Dialect,
    readonly base: string,
  ) {}

  userHref(userId: string): string {
    return `${this.base}/api/v1/users/${userId}`;
  }

  factorHref(f: Factor): string {
    return `${this.base}/api/v1/users/${f.userId}/factors/${f.id}`;
  }

  qrHref(f: Factor): string {
    return `${this.factorHref(f)}/qr/${f.attempt?.qrToken ?? ''}`;
  }

  /** The status this dialect reports for a factor at `now`. */
  status(f: Factor, expired: boolean): string {
    if (f.status === 'ACTIVE') return this.dialect === 'seed' && f.factorType === 'push' ? 'ACTIVATED' : 'ACTIVE';
    return expired ? 'EXPIRED' : 'PENDING_ACTIVATION';
  }

  // ---- factors: GET, list, enroll -------------------------------------------------

  /** A factor as GET / list answer it; `enroll` adds the activation material. */
  factor(f: Factor, expired: boolean, enroll = false): Json {
    if (this.dialect === 'seed' && f.factorType === 'push') return this.seedFactor(f, expired, enroll);
    return this.oktaFactor(f, expired, enroll);
  }

  private oktaFactor(f: Factor, expired: boolean, enroll: boolean): Json {
    const self = this.factorHref(f);
    const body: Json = {
      id: f.id,
      factorType: f.factorType,
      provider: f.provider,
      vendorName: f.provider,
      status: this.status(f, expired),
      created: iso(f.created),
      lastUpdated: iso(expired && f.attempt ? Math.max(f.lastUpdated, f.attempt.expiresAt) : f.lastUpdated),
    };
    if (f.factorType !== 'push' || Object.keys(f.profile).length) body.profile = f.profile;
    const user = link(this.userHref(f.userId), 'GET');
    if (f.status === 'ACTIVE') {
      body._links = { verify: link(`${self}/verify`, 'POST'), self: link(self, 'GET', 'DELETE'), user };
      return body;
    }
    if (f.factorType === 'push') {
      if (expired) {
        body._links = { activate: link(`${self}/lifecycle/activate`, 'POST'), self: link(self, 'GET', 'DELETE'), user };
      } else {
        body._links = { poll: link(`${self}/lifecycle/activate/poll`, 'POST'), self: link(self, 'GET'), user };
        if (enroll) body._embedded = { activation: this.pushActivation(f) };
      }
      return body;
    }
    const links: Json = { activate: link(`${self}/lifecycle/activate`, 'POST') };
    if (f.factorType === 'sms' || f.factorType === 'call' || f.factorType === 'email') {
      links.resend = [{ name: f.factorType, ...link(`${self}/resend`, 'POST') }];
    }
    links.self = link(self, 'GET');
    links.user = user;
    body._links = links;
    if (f.factorType === 'token:software:totp' && enroll) {
      body._embedded = {
        activation: { timeStep: 30, sharedSecret: f.sharedSecret, encoding: 'base32', keyLength: 6 },
        _links: { qrcode: { href: `${self}/qr/00${f.sharedSecret}`, type: 'image/png' } },
      };
    }
    return body;
  }

  /** `_embedded.activation` of a waiting push factor (EnrollFactorOVPushResponse). */
  private pushActivation(f: Factor): Json {
    const self = this.factorHref(f);
    return {
      expiresAt: iso(f.attempt!.expiresAt),
      factorResult: 'WAITING',
      _links: {
        send: [
          { name: 'email', ...link(`${self}/lifecycle/activate/email`, 'POST') },
          { name: 'sms', ...link(`${self}/lifecycle/activate/sms`, 'POST') },
        ],
        qrcode: { href: this.qrHref(f), type: 'image/png' },
      },
    };
  }

  /** Answer of POST …/lifecycle/activate/poll (UserFactorActivatePush, or the ACTIVE factor). */
  poll(f: Factor, expired: boolean): Json {
    if (f.status === 'ACTIVE') return this.oktaFactor(f, false, false);
    const self = this.factorHref(f);
    if (expired) return { factorResult: 'TIMEOUT', _links: { activate: link(`${self}/lifecycle/activate`, 'POST') } };
    return {
      expiresAt: iso(f.attempt!.expiresAt),
      factorResult: 'WAITING',
      _links: {
        poll: link(`${self}/lifecycle/activate/poll`, 'POST'),
        send: [
          { name: 'email', ...link(`${self}/lifecycle/activate/email`, 'POST') },
          { name: 'sms', ...link(`${self}/lifecycle/activate/sms`, 'POST') },
        ],
      },
    };
  }

  // ---- seed dialect -------------------------------------------------------------

  private seedFactor(f: Factor, expired: boolean, enroll: boolean): Json {
    const self = this.factorHref(f);
    const profile = 'deviceName' in f.profile ? { deviceName: f.profile.deviceName } : {};
    const user = link(this.userHref(f.userId), 'GET');
    const provider = link(`${this.base}/api/v1/factors/providers/${f.provider.toLowerCase()}`, 'GET');
    if (f.status === 'ACTIVE') {
      const at = iso(f.activated ?? f.lastUpdated);
      return {
        id: f.id,
        factorType: f.factorType,
        status: 'ACTIVATED',
        created: iso(f.created),
        activated: at,
        lastVerification: at,
        lastUpdated: iso(f.lastUpdated),
        profile,
        _links: { self: link(self, 'GET', 'DELETE'), deactivate: link(`${self}/lifecycle/deactivate`, 'POST'), user, provider },
      };
    }
    const a = f.attempt!;
    if (expired) {
      return {
        id: f.id,
        factorType: f.factorType,
        status: 'EXPIRED',
        created: iso(f.created),
        expired: iso(a.expiresAt),
        lastVerification: null,
        lastUpdated: iso(Math.max(f.lastUpdated, a.expiresAt)),
        profile,
        _links: { self: link(self, 'GET', 'DELETE'), activate: link(`${self}/lifecycle/activate`, 'POST'), user, provider },
      };
    }
    const body: Json = {
      id: f.id,
      factorType: f.factorType,
      status: 'PENDING_ACTIVATION',
      expiresAt: iso(a.expiresAt),
      created: iso(f.created),
      activated: 'null',
      lastVerification: 'null',
      lastUpdated: iso(f.lastUpdated),
      profile,
    };
    if (enroll) {
      const appStore = f.provider.toLowerCase() === 'duo' ? 'https://itunes.apple.com/us/app/duo-mobile/id422663827' : 'https://apps.apple.com/us/app/okta-verify/id490179405';
      body._embedded = { install: { appStore, barcode: this.qrHref(f) } };
    }
    body._links = {
      next: { name: 'poll', ...link(self, 'GET') },
      self: link(self, 'GET', 'DELETE'),
      poll: link(self, 'GET'),
      user,
      provider,
    };
    return body;
  }

  // ---- users and groups -----------------------------------------------------------

  user(u: SimUser): Json {
    const created = iso(u.created);
    return {
      id: u.id,
      status: 'ACTIVE',
      created,
      activated: created,
      statusChanged: created,
      lastLogin: null,
      lastUpdated: created,
      passwordChanged: null,
      type: { id: 'oty00000000000000000' },
      profile: {
        firstName: u.firstName,
        lastName: u.lastName,
        login: u.login,
        email: u.email,
        ...(u.phone ? { mobilePhone: u.phone } : {}),
      },
      _links: { self: { href: this.userHref(u.id) } },
    };
  }

  group(g: SimGroup): Json {
    const created = iso(g.created);
    return {
      id: g.id,
      created,
      lastUpdated: created,
      lastMembershipUpdated: created,
      objectClass: ['okta:user_group'],
      type: 'OKTA_GROUP',
      profile: { name: g.name, description: null },
      _links: {
        logo: [],
        users: { href: `${this.base}/api/v1/groups/${g.id}/users` },
        apps: { href: `${this.base}/api/v1/groups/${g.id}/apps` },
      },
    };
  }
}
