/**
 * Groups (members paged with Link headers, search by name prefix) and the System Log
 * (polling queries always carry `next`; bounded ones only when more remain; filters).
 */
import { describe, expect, test } from 'vitest';
import { csvFile, sim, sleep } from './helpers.js';

function links(header: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of ([] as string[]).concat(header ?? []).join(', ').split(/,\s*(?=<)/)) {
    const m = /^<([^>]+)>;\s*rel="([^"]+)"$/.exec(part.trim());
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}

function usersFile(n: number): string {
  const rows = ['id,login,group'];
  for (let i = 1; i <= n; i++) rows.push(`00uG${String(i).padStart(16, '0')},g${i}@example.com,${i % 2 ? 'eng;all' : 'all'}`);
  return csvFile(rows.join('\n'));
}

describe('groups', () => {
  test('members are paged: Link rel="next" while more remain, rel="self" always', async () => {
    const s = await sim({ usersCsv: usersFile(5) });
    const seen: string[] = [];
    let next: string | undefined = '/api/v1/groups/all/users?limit=2';
    let pages = 0;
    while (next) {
      const r = await s.call('GET', next);
      expect(r.status).toBe(200);
      pages++;
      for (const u of r.body) {
        expect(u).toMatchObject({ status: 'ACTIVE', profile: { login: expect.any(String), email: expect.any(String) } });
        expect(u._links.self.href).toBe(`${s.sim.url}/api/v1/users/${u.id}`);
        seen.push(u.profile.login);
      }
      const l = links(r.headers.link);
      expect(l.self).toBeDefined();
      next = l.next ? new URL(l.next).pathname + new URL(l.next).search : undefined;
      if (next) expect(next).toMatch(/after=.+&limit=2|limit=2.*after=/);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['g1@example.com', 'g2@example.com', 'g3@example.com', 'g4@example.com', 'g5@example.com']);
    const eng = await s.call('GET', '/api/v1/groups/eng/users');
    expect(eng.body).toHaveLength(3);
    expect(links(eng.headers.link).next).toBeUndefined();
  });

  test('unknown group: 404 E0000007; search by name prefix, names from --groups-csv', async () => {
    const s = await sim({ usersCsv: usersFile(2), groupsCsv: csvFile('id,name\neng,Engineering\nall,Everyone\n') });
    const none = await s.call('GET', '/api/v1/groups/nope/users');
    expect(none.status).toBe(404);
    expect(none.body.errorCode).toBe('E0000007');
    const found = await s.call('GET', '/api/v1/groups?q=eng');
    expect(found.body.map((g: { id: string; profile: { name: string } }) => [g.id, g.profile.name])).toEqual([['eng', 'Engineering']]);
    expect((await s.call('GET', '/api/v1/groups?q=Ev')).body[0].id).toBe('all');
    expect((await s.call('GET', '/api/v1/groups?q=x')).body).toEqual([]);
    expect((await s.call('GET', '/api/v1/groups/all/users?limit=0')).status).toBe(400);
  });
});

describe('System Log', () => {
  const scanners = (n: number, delay: number) => {
    const rows = ['id,login,activation'];
    for (let i = 1; i <= n; i++) rows.push(`00uL${String(i).padStart(16, '0')},l${i}@example.com,${delay}`);
    return csvFile(rows.join('\n'));
  };

  test('a polling query (no until) always has a next link, even when empty, and the cursor picks up new events', async () => {
    const s = await sim({ usersCsv: scanners(3, 30) });
    const since = new Date(Date.now() - 1000).toISOString();
    const first = await s.call('GET', `/api/v1/logs?since=${encodeURIComponent(since)}&filter=${encodeURIComponent('eventType eq "user.mfa.factor.activate"')}`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual([]);
    const next1 = links(first.headers.link).next;
    expect(next1).toBeDefined();
    for (const u of s.users) await s.call('POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push', provider: 'OKTA' });
    await sleep(80);
    const second = await s.follow('GET', next1!);
    expect(second.body.map((e: { actor: { alternateId: string } }) => e.actor.alternateId).sort()).toEqual(['l1@example.com', 'l2@example.com', 'l3@example.com']);
    const next2 = links(second.headers.link).next;
    expect(next2).toBeDefined();
    expect(new URL(next2!).searchParams.get('filter')).toBe('eventType eq "user.mfa.factor.activate"');
    const third = await s.follow('GET', next2!);
    expect(third.body).toEqual([]);
    expect(links(third.headers.link).next).toBeDefined();
  });

  test('with until: next only while more remain; limit pages; filters with and / or', async () => {
    const s = await sim({ usersCsv: scanners(3, 10) });
    for (const u of s.users) await s.call('POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push', provider: 'OKTA' });
    await sleep(60);
    const until = encodeURIComponent(new Date(Date.now() + 1000).toISOString());
    const p1 = await s.call('GET', `/api/v1/logs?until=${until}&limit=2`);
    expect(p1.body).toHaveLength(2);
    const n1 = links(p1.headers.link).next;
    expect(n1).toBeDefined();
    const p2 = await s.follow('GET', n1!);
    expect(p2.body).toHaveLength(1);
    expect(links(p2.headers.link).next).toBeUndefined();
    expect([...p1.body, ...p2.body].map((e: { uuid: string }) => e.uuid)).toEqual(s.sim.events().map((e) => e.uuid));
    const both = `actor.alternateId eq "l1@example.com" or (actor.alternateId eq "l3@example.com" and eventType eq "user.mfa.factor.activate")`;
    const f = await s.call('GET', `/api/v1/logs?until=${until}&filter=${encodeURIComponent(both)}`);
    expect(f.body.map((e: { actor: { alternateId: string } }) => e.actor.alternateId).sort()).toEqual(['l1@example.com', 'l3@example.com']);
    const none = await s.call('GET', `/api/v1/logs?until=${until}&filter=${encodeURIComponent('eventType eq "user.session.start"')}`);
    expect(none.body).toEqual([]);
    const bad = await s.call('GET', `/api/v1/logs?filter=${encodeURIComponent('eventType = "x"')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errorCode).toBe('E0000001');
    expect((await s.call('GET', '/api/v1/logs?since=yesterday')).status).toBe(400);
  });
});
