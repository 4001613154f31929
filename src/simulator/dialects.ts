/**
 * What the simulator's answers look like, field for field, in its two dialects:
 *  - okta: today's Management API (factors-openapi-excerpt.yaml): 200 on enroll,
 *    `_embedded.activation`, POST poll answering WAITING / TIMEOUT / the ACTIVE factor;
 *    and the shapes real orgs answer beside it (listShape, restartShape, pollLink): a
 *    pending push listed with `_links.next` / `_links.activate` as the spec's listFactors
 *    example shows, restarts answered by the Push Factor Activation object alone as the
 *    archived reference shows, a poll link that is …/lifecycle/activate itself.
 *  - seed: the seed document (seed-push-factor-api.txt): 301 + Location on enroll,
 *    `_embedded.install`, GET poll on the factor, ACTIVATED / EXPIRED, `"null"` strings.
 * Users, groups and errors look the same in both.
 */
import { iso } from './clock.js';
import type { ActivationResult, Factor } from './factors.js';
import type { SimGroup, SimUser } from './directory.js';
import type { Dialect, ListShape, PollLink, RestartShape } from './options.js';

export interface Shapes {
  listShape: ListShape;
  restartShape: RestartShape;
  pollLink: PollLink;
}

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
    readonly shapes: Shapes = { listShape: 'expired', restartShape: 'factor', pollLink: 'poll' },
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

  /** Where a waiting push is polled: …/lifecycle/activate/poll (the spec) or …/lifecycle/activate (pollLink activate). */
  pollHref(f: Factor): string {
    return `${this.factorHref(f)}/lifecycle/activate${this.shapes.pollLink === 'activate' ? '' : '/poll'}`;
  }

  /** The status of a factor as it truly is (today's list shape; the seed's ACTIVATED for push): the inspection's view. */
  status(f: Factor, result: ActivationResult | undefined): string {
    if (f.status === 'ACTIVE') return this.dialect === 'seed' && f.factorType === 'push' ? 'ACTIVATED' : 'ACTIVE';
    return result === 'TIMEOUT' ? 'EXPIRED' : 'PENDING_ACTIVATION';
  }

  // ---- factors: GET, list, enroll -------------------------------------------------

  /**
   * A factor as GET / list answer it (`answer` false: in the list shape) or as the enroll,
   * activate and send answers carry it (`answer` true: with the activation material).
   */
  factor(f: Factor, result: ActivationResult | undefined, answer = false): Json {
    const expired = result === 'TIMEOUT';
    if (this.dialect === 'seed' && f.factorType === 'push') return this.seedFactor(f, expired, answer);
    return this.oktaFactor(f, result, answer);
  }

  private oktaFactor(f: Factor, result: ActivationResult | undefined, answer: boolean): Json {
    const expired = result === 'TIMEOUT';
    const self = this.factorHref(f);
    const body: Json = {
      id: f.id,
      factorType: f.factorType,
      provider: f.provider,
      vendorName: f.provider,
      status: this.status(f, result),
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
      const listShape = this.shapes.listShape;
      if (!answer && listShape !== 'expired') {
        // The spec's listFactors example: pending, whatever the activation's state; no poll link, no _embedded.
        body.status = 'PENDING_ACTIVATION';
        body.lastUpdated = iso(f.lastUpdated);
        const activate = link(`${self}/lifecycle/activate`, 'POST');
        body._links = { ...(listShape === 'pending-next' ? { next: { name: 'activate', ...activate } } : { activate }), self: link(self, 'GET'), user };
      } else if (expired) {
        body._links = { activate: link(`${self}/lifecycle/activate`, 'POST'), self: link(self, 'GET', 'DELETE'), user };
      } else {
        body._links = { poll: link(this.pollHref(f), 'POST'), self: link(self, 'GET'), user };
        if (answer) body._embedded = { activation: this.pushActivation(f, result ?? 'WAITING') };
      }
      return body;
    }
    if (f.factorType === 'signed_nonce') {
      // Okta FastPass cannot be activated through the Factors API: no activate link.
      body._links = { self: link(self, 'GET'), user };
      return body;
    }
    const links: Json = { activate: link(`${self}/lifecycle/activate`, 'POST') };
    if (f.factorType === 'sms' || f.factorType === 'call' || f.factorType === 'email') {
      links.resend = [{ name: f.factorType, ...link(`${self}/resend`, 'POST') }];
    }
    links.self = link(self, 'GET');
    links.user = user;
    body._links = links;
    if (f.factorType === 'token:software:totp' && answer) {
      body._embedded = {
        activation: { timeStep: 30, sharedSecret: f.sharedSecret, encoding: 'base32', keyLength: 6 },
        _links: { qrcode: { href: `${self}/qr/00${f.sharedSecret}`, type: 'image/png' } },
      };
    }
    return body;
  }

  private sendLinks(f: Factor): Json[] {
    const self = this.factorHref(f);
    return [
      { name: 'email', ...link(`${self}/lifecycle/activate/email`, 'POST') },
      { name: 'sms', ...link(`${self}/lifecycle/activate/sms`, 'POST') },
    ];
  }

  /** `_embedded.activation` of a pending push factor (EnrollFactorOVPushResponse); a cancelled or failed one has no links. */
  private pushActivation(f: Factor, result: ActivationResult): Json {
    const out: Json = { expiresAt: iso(f.attempt!.expiresAt), factorResult: result };
    if (result === 'WAITING') out._links = { send: this.sendLinks(f), qrcode: { href: this.qrHref(f), type: 'image/png' } };
    return out;
  }

  /** An activation that ended without a scan: TIMEOUT as the references show it; CANCELLED / ERROR keep their expiresAt. */
  private endedActivation(f: Factor, result: Exclude<ActivationResult, 'WAITING'>): Json {
    const activate = { activate: link(`${this.factorHref(f)}/lifecycle/activate`, 'POST') };
    if (result === 'TIMEOUT') return { factorResult: 'TIMEOUT', _links: activate };
    return { expiresAt: iso(f.attempt!.expiresAt), factorResult: result, _links: activate };
  }

  /** Answer of POST …/lifecycle/activate/poll (UserFactorActivatePush, or the ACTIVE factor). */
  poll(f: Factor, result: ActivationResult | undefined): Json {
    if (f.status === 'ACTIVE' || !result) return this.oktaFactor(f, undefined, false);
    if (result !== 'WAITING') return this.endedActivation(f, result);
    return {
      expiresAt: iso(f.attempt!.expiresAt),
      factorResult: 'WAITING',
      _links: { poll: link(this.pollHref(f), 'POST'), send: this.sendLinks(f) },
    };
  }

  /**
   * The Push Factor Activation object alone, as the archived reference's "Activate Push
   * Factor" shows it (restartShape activation): waiting, its poll link …/lifecycle/activate;
   * ended; or, once scanned, the full ACTIVE factor.
   */
  activation(f: Factor, result: ActivationResult | undefined): Json {
    if (f.status === 'ACTIVE' || !result) return this.oktaFactor(f, undefined, false);
    if (result !== 'WAITING') return this.endedActivation(f, result);
    return {
      expiresAt: iso(f.attempt!.expiresAt),
      factorResult: 'WAITING',
      _links: {
        poll: link(`${this.factorHref(f)}/lifecycle/activate`, 'POST'),
        qrcode: { href: this.qrHref(f), type: 'image/png' },
        send: this.sendLinks(f),
      },
    };
  }

  // ---- seed dialect -------------------------------------------------------------

  private seedFactor(f: Factor, expired: boolean, answer: boolean): Json {
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
    if (answer) {
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
      status: u.status,
      created,
      activated: u.status === 'STAGED' ? null : created,
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
        ...(u.timezone ? { timezone: u.timezone } : {}),
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
