/**
 * Reading the input CSV: encodings and line endings, quoted fields, row numbering,
 * header aliases, filters, inspectInput's counts / duplicates / SHA-256, and a
 * 50,000-row file. Files are written to a temp dir; no Redis, no network.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFilterFlags } from '../../src/csv/filters.js';
import { generateUsersCsv } from '../../src/csv/generate.js';
import { inspectInput, readInput } from '../../src/csv/read-input.js';
import { ConfigError, InputFileError } from '../../src/errors.js';
import { error, rows, useTempFiles } from './helpers.js';

const { dir: tmp, file } = useTempFiles('read');

const ID1 = '00u1aaaaaaaaaaaaaaaa';
const ID2 = '00u2bbbbbbbbbbbbbbbb';
const ID3 = '00u3cccccccccccccccc';

describe('readInput: text forms', () => {
  it('reads UTF-8 with BOM and CRLF, quoted commas, quotes and line breaks', async () => {
    const f = file(
      '\uFEFFuserId,login,deviceName\r\n' +
        `${ID1},,"Zoë's iPhone, work"\r\n` +
        `${ID2},,"The ""good"" one\r\nsecond line"\r\n` +
        `${ID3},,plain\r\n`,
    );
    const r = await rows(f);
    expect(r.map((x) => x.ok)).toEqual([true, true, true]);
    expect(r.map((x) => x.value.row)).toEqual([1, 2, 3]);
    expect(r[0]!.value).toEqual({ row: 1, userId: ID1, factorType: 'push', provider: 'OKTA', deviceName: "Zoë's iPhone, work" });
    expect(r[1]!.value.deviceName).toBe('The "good" one\r\nsecond line');
    expect(r[2]!.value.deviceName).toBe('plain');
  });

  it('gives the same rows for LF, CRLF, with and without BOM, with and without a final newline', async () => {
    const body = ['userId,factorType,deviceName', `${ID1},push,"a\nb"`, `${ID2},,c`];
    const variants = [
      body.join('\n') + '\n',
      body.join('\r\n') + '\r\n',
      '\uFEFF' + body.join('\r\n'),
      '\uFEFF' + body.join('\n'),
    ];
    const results = await Promise.all(variants.map(async (v) => (await rows(file(v))).map((r) => [r.value.row, r.value.userId])));
    for (const r of results) expect(r).toEqual([[1, ID1], [2, ID2]]);
  });

  it('numbers data rows by record: multi-line fields count once, blank lines and all-empty rows not at all', async () => {
    const f = file(
      'userId,deviceName\n' +
        `${ID1},"line 1\nline 2\nline 3"\n` +
        '\n' +
        ',\n' +
        `${ID2},"x\n\ny"\n` +
        '   \n' +
        `${ID3},z\n`,
    );
    const r = await rows(f);
    expect(r.map((x) => [x.value.row, x.value.userId])).toEqual([[1, ID1], [2, ID2], [3, ID3]]);
  });

  it('accepts header spellings case-insensitively and maps them to the canonical columns', async () => {
    const f = file('USER_ID,User Name,Factor-Type,PROVIDER,device_type,Device Name,phone,E-Mail\n' + `${ID1},jane@example.com,SMS,duo ,SmartPhone_IPhone,Jane's,+1 415 555 0100,\n`);
    const [r] = await rows(f);
    expect(r).toEqual({
      ok: true,
      value: {
        row: 1,
        userId: ID1,
        login: 'jane@example.com',
        factorType: 'sms',
        provider: 'duo',
        deviceType: 'SmartPhone_IPhone',
        deviceName: "Jane's",
        phoneNumber: '+14155550100',
      },
    });
  });

  it('accepts unknown columns only when asked, and ignores them', async () => {
    const f = file(`login,department\njane@example.com,Finance\n`);
    expect(await error(rows(f))).toBeInstanceOf(InputFileError);
    const r = await rows(f, { allowUnknownColumns: true });
    expect(r[0]).toEqual({ ok: true, value: { row: 1, login: 'jane@example.com', factorType: 'push', provider: 'OKTA' } });
  });

  it('a login-only header works and a row can name both userId and login', async () => {
    const r = await rows(file(`userId,login\n${ID1},jane@example.com\n,bob@example.com\n`));
    expect(r.map((x) => [x.ok, x.value.userId, x.value.login])).toEqual([
      [true, ID1, 'jane@example.com'],
      [true, undefined, 'bob@example.com'],
    ]);
  });

  it('keeps phone numbers and emails only for the factor types that use them (a push row keeps its phone for SMS delivery)', async () => {
    const r = await rows(file(`userId,factorType,phoneNumber,email\n${ID1},push,+14155550100,a@example.com\n${ID2},email,,a@example.com\n${ID3},call,+1-415-555-0101,\n`));
    expect(r.map((x) => x.value)).toEqual([
      { row: 1, userId: ID1, factorType: 'push', provider: 'OKTA', phoneNumber: '+14155550100' },
      { row: 2, userId: ID2, factorType: 'email', provider: 'OKTA', email: 'a@example.com' },
      { row: 3, userId: ID3, factorType: 'call', provider: 'OKTA', phoneNumber: '+14155550101' },
    ]);
  });

  it('reports a bad row with the cells it could read, for the report', async () => {
    const [r] = await rows(file(`userId,login,factorType,deviceName\n${ID1},me,fido,Jane's key\n`));
    expect(r).toEqual({
      ok: false,
      value: {
        row: 1,
        userId: ID1,
        login: 'me',
        factorType: 'fido',
        provider: 'OKTA',
        deviceName: "Jane's key",
        errorCode: 'INVALID_INPUT',
        reason:
          'login: "me" is refused (Okta would resolve it to the API token\'s own admin user); factorType: unsupported factor type "fido" (expected push, sms, call or email)',
      },
    });
  });

  it('escapes control characters of hostile cells in messages', async () => {
    const [r] = await rows(file(`userId,factorType\n${ID1},"\u001b[31mred\u009b"\n`));
    expect(r!.ok).toBe(false);
    const reason = (r!.value as { reason: string }).reason;
    expect(reason).toContain('\\u001b[31mred\\u009b');
    expect(reason).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('honours maxFieldBytes and maxLineBytes', async () => {
    const f = file(`userId,deviceName\n${ID1},${'x'.repeat(100)}\n`);
    expect((await error(rows(f, { maxFieldBytes: 99 }))).message).toBe(
      `${f}, line 2: a field in column "deviceName" is 100 bytes, over the limit of 99 bytes per field`,
    );
    expect((await rows(f, { maxFieldBytes: 100 })).length).toBe(1);
    expect((await error(rows(f, { maxLineBytes: 50 }))).message).toMatch(/^.*, line 2: a record is longer than 50 bytes/);
  });

  it('finds invalid UTF-8 far into the file, split across read chunks', async () => {
    const good = `${ID1},${'é'.repeat(20)}\n`;
    const lines = Math.ceil((200 * 1024) / Buffer.byteLength(good));
    const head = Buffer.from(`userId,deviceName\n${good.repeat(lines)}`);
    const f = file(Buffer.concat([head, Buffer.from(`${ID2},caf`), Buffer.from([0xe9, 0x0a])]));
    const e = await error(rows(f));
    expect(e).toBeInstanceOf(InputFileError);
    expect(e.message).toBe(
      `${f}, line ${lines + 2}: the file is not valid UTF-8 (byte 0xE9 at byte offset ${head.length + 24}); save it as "CSV UTF-8" (a Latin-1 or Windows-1252 export looks like this)`,
    );
  });

  it('rejects options that make no sense with a ConfigError', async () => {
    const f = file(`userId\n${ID1}\n`);
    expect(await error(rows(f, { maxRows: -1 }))).toBeInstanceOf(ConfigError);
    expect(await error(rows(f, { maxFieldBytes: 0 }))).toBeInstanceOf(ConfigError);
  });
});

describe('readInput: filters', () => {
  const f = () =>
    file(
      'userId,login,factorType,department\n' +
        `${ID1},,push,Finance\n` +
        ',bob@contractor.example.com,push,Finance\n' +
        `${ID2},,sms,Sales\n` +
        `${ID3},,push,Finance\n` +
        ',carol@example.com,push,Legal\n',
    );

  it('match keeps matching rows, skip leaves rows out, numbering stays the file\'s', async () => {
    const r = await rows(f(), {
      allowUnknownColumns: true,
      match: parseFilterFlags(['department=^Finance$'], '--match'),
      skip: parseFilterFlags(['login=@contractor\\.'], '--skip'),
    });
    expect(r.map((x) => x.value.row)).toEqual([1, 4]);
  });

  it('a column named by a filter need not be allowed as unknown', async () => {
    const r = await rows(f(), { match: parseFilterFlags(['Department=Legal'], '--match') });
    expect(r.map((x) => x.value.row)).toEqual([5]);
  });

  it('all match filters must match (and), any skip filter leaves the row out (or)', async () => {
    const r = await rows(f(), {
      match: parseFilterFlags(['department=Finance', 'factor_type=push'], '--match'),
      skip: parseFilterFlags(['userId=^00u1', 'login=bob'], '--skip'),
    });
    expect(r.map((x) => x.value.row)).toEqual([4]);
  });

  it('maxRows stops after that many yielded rows', async () => {
    const r = await rows(f(), { allowUnknownColumns: true, maxRows: 2, skip: parseFilterFlags(['userId=^00u1'], '--skip') });
    expect(r.map((x) => x.value.row)).toEqual([2, 3]);
  });

  it('a filter on a column the file does not have is a ConfigError naming the columns', async () => {
    const g = f();
    const e = await error(rows(g, { allowUnknownColumns: true, match: parseFilterFlags(['team=x'], '--match') }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).problems).toEqual([`filter on column "team": ${g} has no such column (its columns: userId, login, factorType, department)`]);
  });

  it('parseFilterFlags lists every bad value at once', () => {
    let caught: unknown;
    try {
      parseFilterFlags(['department', '=x', 'login=', 'login=(', 'ok=^a'], '--skip');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe('--skip "department": expected column=regex, like department=^Finance$');
    expect(problems[1]).toBe('--skip "=x": expected column=regex, like department=^Finance$');
    expect(problems[2]).toBe('--skip "login=": expected a regular expression after "=", got nothing (use ^$ to match empty cells)');
    expect(problems[3]).toMatch(/^--skip "login=\(": expected a valid regular expression, got "\(" \(/);
    expect(parseFilterFlags(['a=b=c'], '--match')[0]!.regex.source).toBe('b=c');
  });
});

describe('inspectInput', () => {
  it('counts valid, invalid and duplicate rows and hashes the raw bytes', async () => {
    const content =
      'userId,login,factorType\n' +
      `${ID1},,push\n` +
      ',Jane@Example.com,push\n' +
      `${ID1},,sms\n` + // invalid: no phone
      `${ID1},,push\n` + // duplicate of 1
      ',jane@example.com,push\n' + // duplicate of 2 (logins compare case-insensitively)
      `${ID2},jane@example.com,push\n` + // duplicate of 2 by login
      `${ID1},,email\n` + // invalid: no email
      `${ID2},,call\n`; // invalid
    const f = file(content);
    const s = await inspectInput(f);
    expect(s.sha256).toBe(createHash('sha256').update(readFileSync(f)).digest('hex'));
    expect(s.bytes).toBe(Buffer.byteLength(content));
    expect(s.columns).toEqual(['userId', 'login', 'factorType']);
    expect([s.rows, s.valid, s.invalidCount, s.duplicateCount]).toEqual([8, 2, 3, 3]);
    expect(s.rows).toBe(s.valid + s.invalidCount + s.duplicateCount);
    expect(s.invalid.map((r) => r.row)).toEqual([3, 7, 8]);
    expect(s.duplicates.map((d) => [d.row, d.duplicateOf, d.reason])).toEqual([
      [4, 1, 'same userId and factorType (push) as row 1'],
      [5, 2, 'same login and factorType (push) as row 2'],
      [6, 2, 'same login and factorType (push) as row 2'],
    ]);
    expect(s.duplicates.every((d) => d.errorCode === 'DUPLICATE_ROW')).toBe(true);
  });

  it('counts rows left out by filters', async () => {
    const s = await inspectInput(file(`userId,factorType\n${ID1},push\n${ID2},sms\n${ID3},push\n`), {
      skip: parseFilterFlags(['factorType=sms'], '--skip'),
    });
    expect([s.rows, s.valid, s.skipped]).toEqual([2, 2, 1]);
  });

  it('reads a generated 50,000-row file in one streamed pass with the generator\'s counts', async () => {
    const f = join(tmp, 'big.csv');
    const gen = await generateUsersCsv(f, 50_000, { seed: 3, invalidRate: 0.01, duplicateRate: 0.01, unknownRate: 0.02 });
    const started = Date.now();
    const s = await inspectInput(f);
    const ms = Date.now() - started;
    expect(s.rows).toBe(50_000);
    expect(s.invalidCount).toBe(gen.kinds.invalid);
    expect(s.duplicateCount).toBe(gen.kinds.duplicate);
    expect(s.valid).toBe(gen.kinds.scans + gen.kinds.never + gen.kinds.unknown);
    expect(s.invalid).toHaveLength(Math.min(gen.kinds.invalid, 1000));
    expect(ms).toBeLessThan(20_000);
  });

  it('breaking out of readInput early stops reading and releases the file', async () => {
    const f = join(tmp, 'big2.csv');
    await generateUsersCsv(f, 20_000, { seed: 4 });
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) {
      for await (const r of readInput(f)) {
        expect(r.value.row).toBe(1);
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(fds()).toBeLessThanOrEqual(before + 2);
    // and the same file still reads to the end.
    let count = 0;
    for await (const _ of readInput(f)) count++;
    expect(count).toBe(20_000);
  });
});

describe('inspectInput: duplicates found in two steps (a fixed-size filter, then an exact pass)', () => {
  it('a row giving both a userId and a login ties them, also when it is itself a duplicate', async () => {
    const f = file(`userId,login\n${ID1},\n${ID1},jane@example.com\n,JANE@example.com\n,bob@example.com\n,bob@example.com\n`);
    const s = await inspectInput(f);
    expect(s.rows).toBe(5);
    expect(s.duplicates.map((d) => [d.row, d.duplicateOf, d.reason])).toEqual([
      [2, 1, 'same userId and factorType (push) as row 1'],
      [3, 1, 'same user and factorType (push) as row 1 (row 2 gives both a userId and a login of this user)'],
      [5, 4, 'same login and factorType (push) as row 4'],
    ]);
    expect(s.valid).toBe(2);
    expect(s.duplicateCount).toBe(3);
  });

  it('finds the one repeated user in a large file without a per-row table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'be-dups-'));
    const big = join(dir, 'big.csv');
    const lines = ['userId'];
    for (let i = 0; i < 50_000; i++) lines.push(`00u${String(i).padStart(17, '0')}`);
    lines.push(`00u${String(31_337).padStart(17, '0')}`);
    writeFileSync(big, `${lines.join('\n')}\n`);
    const s = await inspectInput(big);
    expect(s.duplicates.map((d) => [d.row, d.duplicateOf])).toEqual([[50_001, 31_338]]);
    expect(s.valid).toBe(50_000);
    rmSync(dir, { recursive: true, force: true });
  });
});
