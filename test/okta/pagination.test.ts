import { describe, expect, it } from 'vitest';
import { nextLink, parseLinkHeader } from '../../src/okta/pagination.js';

describe('Link header', () => {
  it("reads Okta's self + next links", () => {
    const header =
      '<https://acme.okta.com/api/v1/groups/00g1/users?limit=200>; rel="self", ' +
      '<https://acme.okta.com/api/v1/groups/00g1/users?after=00u5&limit=200>; rel="next"';
    expect(nextLink(header)).toBe('https://acme.okta.com/api/v1/groups/00g1/users?after=00u5&limit=200');
    expect(parseLinkHeader(header).get('self')).toBe('https://acme.okta.com/api/v1/groups/00g1/users?limit=200');
  });

  it('reads separate Link headers, unquoted rel, extra params, several rel values and commas inside the URI', () => {
    expect(nextLink(['<https://o/api/v1/logs?since=a>; rel=self', '<https://o/api/v1/logs?after=1,2&x=y>; title="p, q"; rel="prev next"'])).toBe(
      'https://o/api/v1/logs?after=1,2&x=y',
    );
  });

  it('keeps the cursor exactly as given (never rebuilt)', () => {
    const odd = 'https://o/api/v1/logs?after=1700000000000_1%3D%3D&limit=100&filter=eventType+eq+%22x%22';
    expect(nextLink(`<${odd}>; rel="next"`)).toBe(odd);
  });

  it('is undefined on the last page or without the header', () => {
    expect(nextLink('<https://o/api/v1/logs>; rel="self"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
    expect(nextLink('garbage')).toBeUndefined();
  });
});
