import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { ForeignOriginError, InsecureTransportError } from '../../src/okta/errors.js';
import { isLoopbackHost, OriginPolicy } from '../../src/okta/links.js';

const ORG = 'https://acme.okta.com';

describe('org URL', () => {
  it.each(['127.0.0.1', '127.10.20.30', 'localhost', 'LOCALHOST', 'sim.localhost', '[::1]', '::1'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['128.0.0.1', '10.0.0.1', '127.0.0.1.evil.com', 'localhost.evil.com', '[::2]', 'acme.okta.com'])('%s is not loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });

  it('refuses plain http:// to a non-loopback host', () => {
    expect(() => new OriginPolicy('http://acme.okta.com')).toThrow(InsecureTransportError);
    expect(() => new OriginPolicy('http://10.1.2.3:8080')).toThrow(/--allow-insecure-http/);
  });

  it('allows http:// to loopback silently, and to any host when opted in (warned once)', () => {
    const warnings: string[] = [];
    expect(new OriginPolicy('http://127.0.0.1:9999', { warn: (m) => warnings.push(m) }).origin).toBe('http://127.0.0.1:9999');
    expect(warnings).toEqual([]);
    const p = new OriginPolicy('http://sim.internal:8080/', { allowInsecureHttp: true, warn: (m) => warnings.push(m) });
    expect(p.origin).toBe('http://sim.internal:8080');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('http://sim.internal:8080');
  });

  it('says what was expected and what was found for unusable org URLs', () => {
    expect(() => new OriginPolicy('acme.okta.com')).toThrow(ConfigError);
    expect(() => new OriginPolicy('acme.okta.com')).toThrow(/orgUrl: expected an absolute URL .* got "acme\.okta\.com"/);
    expect(() => new OriginPolicy('ftp://acme.okta.com')).toThrow(/got the scheme "ftp:"/);
    expect(() => new OriginPolicy('https://user:pw@acme.okta.com')).toThrow(/no user name or password/);
    expect(() => new OriginPolicy(ORG, { foreignLinks: 'follow' as never })).toThrow(/foreignLinks: expected 'rebase' or 'fail', got "follow"/);
  });
});

describe('links on other origins', () => {
  it('rebases a foreign /api/v1/ link onto the org origin, warning once per foreign origin', () => {
    const warnings: string[] = [];
    const p = new OriginPolicy(ORG, { warn: (m) => warnings.push(m) });
    expect(p.normalizeHref('http://rain.okta1.com:1802/api/v1/users/u/factors/f')).toBe(`${ORG}/api/v1/users/u/factors/f`);
    expect(p.requestTarget('http://rain.okta1.com:1802/api/v1/users/u/factors/f?x=1')).toEqual({
      path: '/api/v1/users/u/factors/f?x=1',
      url: `${ORG}/api/v1/users/u/factors/f?x=1`,
    });
    expect(warnings).toHaveLength(1);
    p.normalizeHref('https://other.example.com/api/v1/users/u');
    expect(warnings).toHaveLength(2);
  });

  it("in 'fail' mode keeps the foreign href and refuses to request it", () => {
    const p = new OriginPolicy(ORG, { foreignLinks: 'fail' });
    const href = 'http://rain.okta1.com:1802/api/v1/users/u/factors/f';
    expect(p.normalizeHref(href)).toBe(href);
    expect(() => p.requestTarget(href)).toThrow(ForeignOriginError);
    expect(() => p.requestTarget(href)).toThrow(/http:\/\/rain\.okta1\.com:1802.*only https:\/\/acme\.okta\.com/);
  });

  it('refuses a foreign link outside /api/v1/ even in rebase mode', () => {
    const p = new OriginPolicy(ORG);
    expect(() => p.requestTarget('https://evil.example.com/steal')).toThrow(ForeignOriginError);
  });

  it.each([
    'https://acme.okta.com.evil.com/api/v1/users/u',
    'https://acme.okta.com@evil.com/api/v1/users/u',
    '//evil.com/api/v1/users/u',
    'http://acme.okta.com/api/v1/users/u',
    'https://acme.okta.com:8443/api/v1/users/u',
  ])('treats %s as foreign (fail mode refuses it)', (href) => {
    const p = new OriginPolicy(ORG, { foreignLinks: 'fail' });
    expect(() => p.requestTarget(href)).toThrow(ForeignOriginError);
  });

  it('accepts org-origin links in any spelling, and org-relative paths', () => {
    const p = new OriginPolicy(ORG, { foreignLinks: 'fail' });
    expect(p.requestTarget('https://ACME.okta.com:443/api/v1/users/u').path).toBe('/api/v1/users/u');
    expect(p.requestTarget('/api/v1/users/u?x=1')).toEqual({ path: '/api/v1/users/u?x=1', url: `${ORG}/api/v1/users/u?x=1` });
    expect(p.normalizeHref(' https://acme.okta.com/api/v1/users/u ')).toBe(`${ORG}/api/v1/users/u`);
  });
});
