/**
 * The users file's status, timezone, traits and factors columns over HTTP: lookups that
 * carry status and profile.timezone, users whose factors the org will not change
 * (protected: 403 E0000006; SUSPENDED / DEPROVISIONED: 403 E0000038), users still being
 * activated (409 E0000112), and users who act on their own: another factor set up while
 * the push waits, Okta FastPass with the scan, sign-ins.
 */
import { describe, expect, test } from 'vitest';
import { loadUsersCsv } from '../../src/simulator/directory.js';
import { InputFileError } from '../../src/errors.js';
import { csvFile, manualClock, sim, sleep, thrown } from './helpers.js';

const PUSH = { factorType: 'push', provider: 'OKTA' };
const factors = (id: string) => `/api/v1/users/${id}/factors`;
type Event = { eventType: string; published: string; actor: { id: string }; target: Array<{ id: string; type: string }>; debugContext: { debugData: { factor?: string } } };

describe('status and timezone', () => {
  test('user lookups carry status and profile.timezone; ACTIVE and no timezone by default', async () => {
    const file = csvFile('id,login,status,timezone\n00uTZ000000000000001,berlin@example.com,locked_out,Europe/Berlin\n00uTZ000000000000002,plain@example.com,,\n');
    const s = await sim({ usersCsv: file });
    const a = await s.call('GET', '/api/v1/users/berlin@example.com');
    expect(a.body).toMatchObject({ id: '00uTZ000000000000001', status: 'LOCKED_OUT', profile: { timezone: 'Europe/Berlin' } });
    const b = await s.call('GET', '/api/v1/users/00uTZ000000000000002');
    expect(b.body.status).toBe('ACTIVE');
    expect(b.body.profile.timezone).toBeUndefined();
    expect((await s.call('POST', factors('00uTZ000000000000001'), PUSH)).status).toBe(200); // LOCKED_OUT accepts factor changes
    expect(s.sim.users().map((u) => [u.status, u.timezone])).toEqual([['LOCKED_OUT', 'Europe/Berlin'], ['ACTIVE', undefined]]);
  });

  test('SUSPENDED and DEPROVISIONED users: factor writes answer 403 E0000038, reads work', async () => {
    const file = csvFile('id,login,status,factors\n00uSUSP0000000000001,s@example.com,SUSPENDED,push\n00uDEPR0000000000001,d@example.com,DEPROVISIONED,push\n');
    const s = await sim({ usersCsv: file });
    for (const id of ['00uSUSP0000000000001', '00uDEPR0000000000001']) {
      const r = await s.call('POST', factors(id), { factorType: 'email', provider: 'OKTA' });
      expect(r.status).toBe(403);
      expect(r.body.errorCode).toBe('E0000038');
      expect(r.body.errorSummary).toBe("This operation is not allowed in the user's current status.");
      const list = await s.call('GET', factors(id));
      expect(list.status).toBe(200);
      expect((await s.call('DELETE', `${factors(id)}/${list.body[0].id}`)).body.errorCode).toBe('E0000038');
      expect((await s.call('GET', `/api/v1/users/${id}`)).status).toBe(200);
    }
    expect(s.sim.factors().map((f) => [f.factorType, f.status, f.origin])).toEqual([
      ['push', 'ACTIVE', 'existing'],
      ['push', 'ACTIVE', 'existing'],
    ]);
  });
});

describe('traits', () => {
  test('protected: enroll, activate, send and delete answer 403 E0000006; user lookup and list/get still work', async () => {
    const file = csvFile('id,login,traits,factors\n00uPROT0000000000001,admin@example.com,protected,push;sms\n');
    const s = await sim({ usersCsv: file });
    const base = factors('00uPROT0000000000001');
    const list = await s.call('GET', base);
    expect(list.status).toBe(200);
    expect(list.body.map((f: { factorType: string; status: string }) => [f.factorType, f.status])).toEqual([['push', 'ACTIVE'], ['sms', 'ACTIVE']]);
    const push = list.body[0].id;
    expect((await s.call('GET', `${base}/${push}`)).status).toBe(200);
    expect((await s.call('GET', '/api/v1/users/admin@example.com')).status).toBe(200);
    const writes: Array<[string, string, unknown]> = [
      ['POST', base, { factorType: 'email', provider: 'OKTA' }],
      ['POST', `${base}/${push}/lifecycle/activate`, undefined],
      ['POST', `${base}/${push}/lifecycle/activate/email`, undefined],
      ['DELETE', `${base}/${push}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const r = await s.call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body).toMatchObject({ errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action' });
    }
    expect(s.sim.factors()).toHaveLength(2);
  });

  test('provisioning:<ms>: enrolls answer 409 E0000112 until <ms> after the start, then work', async () => {
    const file = csvFile('id,login,traits\n00uPROV0000000000001,new@example.com,provisioning:600\n');
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ usersCsv: file, clock });
    clock.advance(599);
    const early = await s.call('POST', factors('00uPROV0000000000001'), PUSH);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({
      errorCode: 'E0000112',
      errorSummary: 'Cannot update this user because they are still being activated. Please try again in a few minutes.',
    });
    expect(s.sim.factors()).toHaveLength(0);
    clock.advance(1);
    expect((await s.call('POST', factors('00uPROV0000000000001'), PUSH)).status).toBe(200);
  });

  test('other-factor:<type>:<ms>: while the push waits the user activates another factor; sms logs sms and call at once', async () => {
    const file = csvFile('id,login,activation,traits\n00uOTHER00000000001,o@example.com,never,other-factor:email:40;other-factor:sms:60\n');
    const s = await sim({ usersCsv: file });
    const enroll = await s.call('POST', factors('00uOTHER00000000001'), PUSH);
    await sleep(100);
    const list = (await s.call('GET', factors('00uOTHER00000000001'))).body as Array<{ id: string; factorType: string; status: string }>;
    expect(list.map((f) => [f.factorType, f.status])).toEqual([['push', 'PENDING_ACTIVATION'], ['email', 'ACTIVE'], ['sms', 'ACTIVE']]);
    const [email, sms] = [list[1]!.id, list[2]!.id];
    const events = s.sim.events() as unknown as Event[];
    expect(events.map((e) => [e.eventType, e.debugContext.debugData.factor, e.target.find((t) => t.type === 'AuthenticatorEnrollment')?.id])).toEqual([
      ['user.mfa.factor.activate', 'email', email],
      ['user.mfa.factor.activate', 'sms', sms],
      ['user.mfa.factor.activate', 'call', sms],
    ]);
    expect(events[1]!.published).toBe(events[2]!.published);
    expect(Date.parse(events[0]!.published) - Date.parse(enroll.body.created)).toBe(40);
    expect(events.every((e) => e.actor.id === '00uOTHER00000000001')).toBe(true);
  });

  test('fastpass: scanning the push also activates signed_nonce, its event within a few ms of the push\'s', async () => {
    const file = csvFile('id,login,activation,traits\n00uFAST0000000000001,f@example.com,40,fastpass\n');
    const s = await sim({ usersCsv: file });
    const enroll = await s.call('POST', factors('00uFAST0000000000001'), PUSH);
    await sleep(100);
    const list = (await s.call('GET', factors('00uFAST0000000000001'))).body as Array<{ id: string; factorType: string; status: string }>;
    expect(list.map((f) => [f.factorType, f.status])).toEqual([['push', 'ACTIVE'], ['signed_nonce', 'ACTIVE']]);
    const events = s.sim.events() as unknown as Event[];
    expect(events.map((e) => e.debugContext.debugData.factor)).toEqual(['push', 'signed_nonce']);
    expect(events[0]!.target[1]!.id).toBe(enroll.body.id);
    expect(events[1]!.target[1]!.id).toBe(list[1]!.id);
    expect(Math.abs(Date.parse(events[1]!.published) - Date.parse(events[0]!.published))).toBeLessThanOrEqual(5);
  });

  test('sign-in:<ms>,<ms>: user.session.start SUCCESS events at those times, actor and User target the user', async () => {
    const file = csvFile('id,login,traits\n00uSIGN0000000000001,sign@example.com,"sign-in:30,60"\n');
    const s = await sim({ usersCsv: file });
    const started = Date.now();
    expect(s.sim.events()).toHaveLength(0);
    await sleep(100);
    const until = encodeURIComponent(new Date(Date.now() + 1000).toISOString());
    const r = await s.call('GET', `/api/v1/logs?until=${until}&filter=${encodeURIComponent('eventType eq "user.session.start"')}`);
    expect(r.body).toHaveLength(2);
    for (const e of r.body) {
      expect(e).toMatchObject({ actor: { id: '00uSIGN0000000000001', type: 'User' }, target: [{ id: '00uSIGN0000000000001', type: 'User' }], outcome: { result: 'SUCCESS' } });
    }
    const gap = Date.parse(r.body[1].published) - Date.parse(r.body[0].published);
    expect(gap).toBe(30);
    expect(Date.parse(r.body[0].published)).toBeGreaterThanOrEqual(started - 100);
  });

  test('users-file problems in the new columns name the line, the column, what was expected and what was found', () => {
    const file = csvFile(
      'id,login,status,timezone,traits,factors,activation\n' +
        '00u1,a@example.com,ASLEEP,Mars/Olympus,protected;sometimes,push;magic,cancel:soon\n' +
        '00u2,b@example.com,active,UTC,"other-factor:fax:10;sign-in:5,x",,error:5\n',
    );
    const err = thrown(() => loadUsersCsv(file, 0));
    expect(err).toBeInstanceOf(InputFileError);
    const msg = (err as Error).message;
    expect(msg).toContain('line 2: column `status`: expected one of ACTIVE, STAGED, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED, DEPROVISIONED, got "ASLEEP"');
    expect(msg).toContain('line 2: column `timezone`: expected an IANA time zone such as Europe/Berlin or America/New_York, got "Mars/Olympus"');
    expect(msg).toContain('line 2: column `traits`: expected each entry to be "protected", "provisioning:<ms>", "other-factor:<type>:<ms>", "fastpass" or "sign-in:<ms>[,<ms>…]", got "sometimes"');
    expect(msg).toContain('line 2: column `factors`: expected factor types among push, sms');
    expect(msg).toContain('got "magic"');
    expect(msg).toContain('line 2: column `activation`: expected each entry to be');
    expect(msg).toContain('line 3: column `traits`: expected "other-factor:<type>:<ms>" with a type among push');
    const ok = loadUsersCsv(csvFile('id,login,status,timezone,traits,activation\n00u3,c@example.com,suspended,America/New_York,"fastpass;sign-in:9,3;provisioning:7;other-factor:token:software:totp:20",cancel:5;error:6\n'), 0)[0]!;
    expect(ok).toMatchObject({ status: 'SUSPENDED', timezone: 'America/New_York' });
    expect(ok.traits).toEqual({ protected: false, fastpass: true, signIns: [3, 9], provisioningMs: 7, otherFactors: [{ factorType: 'token:software:totp', ms: 20 }] });
    expect(ok.activation).toEqual([{ kind: 'cancel', ms: 5 }, { kind: 'error', ms: 6 }]);
  });
});
