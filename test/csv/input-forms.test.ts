/**
 * Input CSVs as admins have them: `;` and tab delimited files, Excel's `sep=` line,
 * --delimiter, Okta's own user exports (read by their Username / ID, the rest ignored),
 * "did you mean" hints for misnamed headers, and inputs that are not regular files
 * (a FIFO nobody writes to, a device, a directory, a socket), refused at once without
 * blocking. Files in a temp dir; no Redis, no network.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDelimiterFlag } from '../../src/csv/delimiter.js';
import { parseFilterFlags } from '../../src/csv/filters.js';
import { columnNotes, delimiterNote } from '../../src/csv/input-notes.js';
import { hashFile, inspectInput } from '../../src/csv/read-input.js';
import { readReport } from '../../src/csv/report.js';
import { ConfigError, InputFileError } from '../../src/errors.js';
import { error, rows, useTempFiles } from './helpers.js';

const { dir: tmp, file } = useTempFiles('forms');

const ID1 = '00u1aaaaaaaaaaaaaaaa';
const ID2 = '00u2bbbbbbbbbbbbbbbb';

describe('delimiters', () => {
  it('detects , ; and tab from the header, quotes and all, and reads the same rows', async () => {
    const variants: Array<[string, string]> = [
      [',', `userId,login,deviceName\n${ID1},,"Zoë's phone; work"\n,jane@example.com,"a,b"\n`],
      [';', `userId;login;deviceName\n${ID1};;"Zoë's phone; work"\n;jane@example.com;"a,b"\n`],
      ['\t', `userId\tlogin\tdeviceName\r\n${ID1}\t\t"Zoë's phone; work"\r\n\tjane@example.com\t"a,b"\r\n`],
    ];
    for (const [d, text] of variants) {
      const f = file(`\uFEFF${text}`);
      const r = await rows(f);
      expect(r.map((x) => [x.ok, x.value.userId, x.value.login, x.value.deviceName])).toEqual([
        [true, ID1, undefined, "Zoë's phone; work"],
        [true, undefined, 'jane@example.com', 'a,b'],
      ]);
      const s = await inspectInput(f);
      expect([s.delimiter, s.delimiterFrom]).toEqual([d, 'header']);
    }
  });

  it('a header whose semicolons are quoted is not taken for ;-delimited, and says why it is one cell', async () => {
    const f = file(`"userId;login"\n"${ID1};"\n`);
    const e = await error(rows(f));
    expect(e).toBeInstanceOf(InputFileError);
    expect(e.message).toContain(`${f}, line 1: unknown column "userId;login"`);
    expect(e.message).toContain('the header is one single quoted cell that contains ";" (semicolon): each line seems to be wrapped in quotes');
  });

  it('Excel\'s sep= line names the delimiter and is not the header; line numbers stay the file\'s', async () => {
    const f = file(`sep=;\r\nuserId;factorType\r\n${ID1};push\r\n${ID2};fido\r\n`);
    const r = await rows(f);
    expect(r.map((x) => [x.value.row, x.ok])).toEqual([
      [1, true],
      [2, false],
    ]);
    const s = await inspectInput(f);
    expect([s.delimiter, s.delimiterFrom, s.columns]).toEqual([';', 'sep-line', ['userId', 'factorType']]);
    const bad = file(`sep=;\nuserId;login;nope\n${ID1};;\n`);
    expect((await error(rows(bad))).message).toMatch(new RegExp(`^${bad}, line 2: unknown column "nope"`));
  });

  it('--delimiter forces one; a header read as one cell gets the hint, also when a quote error comes first', async () => {
    const f = file(`userId;login\n${ID1};\n`);
    expect((await rows(f, { delimiter: ';' })).map((x) => x.value.userId)).toEqual([ID1]);
    const s = await inspectInput(f, { delimiter: ';' });
    expect(s.delimiterFrom).toBe('option');
    const e = await error(rows(f, { delimiter: ',' }));
    expect(e.message).toBe(
      `${f}, line 1: unknown column "userId;login" (known columns: userId, login, factorType, provider, deviceType, deviceName, phoneNumber, email; ` +
        'names are case-insensitive and may use spaces or underscores, like user_id); the header has neither a userId nor a login column (expected at least one of them; found "userId;login"); ' +
        'the header is one single cell that contains ";" (semicolon), so the columns seem to be separated by ";" (semicolon), not by "," (comma) (from --delimiter): leave out --delimiter to detect it, or pass --delimiter ";"',
    );
    const quoted = file(`userId;deviceName\n${ID1};"Jane's; phone"\n`);
    const q = await error(rows(quoted, { delimiter: ',' }));
    expect(q.message).toMatch(/^.*, line 2: a quote appears inside an unquoted field .*; the header is one single cell that contains ";"/);
  });

  it('parseDelimiterFlag takes the characters and their names, and says what it expected', () => {
    expect(['', ',', ';', 'tab', '\t', '\\t', 'TAB', '|', 'semicolon', 'comma', 'pipe'].slice(1).map(parseDelimiterFlag)).toEqual([',', ';', '\t', '\t', '\t', '\t', '|', ';', ',', '|']);
    let caught: unknown;
    try {
      parseDelimiterFlag('::');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual(['--delimiter: expected one of , ; tab | (or comma, semicolon, pipe), got "::"']);
  });

  it('the notes name the delimiter and where it came from', async () => {
    const s = await inspectInput(file(`userId\t login\n${ID1}\t\n`));
    expect(delimiterNote(s)).toBe('delimiter tab, detected from the header');
  });
});

describe("Okta's user exports", () => {
  // Directory > People export style, the Password Health report, the User Accounts report, the import template.
  const people = 'ID,Username,First name,Last name,Primary email,Mobile phone,Status,Last login\n';
  const peopleRows = `${ID1},jane@example.com,Jane,Doe,jane.doe@example.com,(415) 555-0100,ACTIVE,2024-05-01\n${ID2},bob@example.com,Bob,Ross,,,SUSPENDED,\n`;

  it('without --allow-unknown-columns: refused, with the way to run it as it is', async () => {
    const f = file(people + peopleRows);
    const e = await error(rows(f));
    expect(e.message).toContain(
      'this looks like a user export from Okta: add --allow-unknown-columns to enroll its users by "ID" and "Username" and ignore its other columns',
    );
  });

  it('with --allow-unknown-columns: ID is the userId, Username the login, the phone and the rest are ignored', async () => {
    const f = file(people + peopleRows);
    const r = await rows(f, { allowUnknownColumns: true });
    expect(r.map((x) => x.value)).toEqual([
      { row: 1, userId: ID1, login: 'jane@example.com', factorType: 'push', provider: 'OKTA' },
      { row: 2, userId: ID2, login: 'bob@example.com', factorType: 'push', provider: 'OKTA' },
    ]);
    const s = await inspectInput(f, { allowUnknownColumns: true, skip: parseFilterFlags(['Status=^(SUSPENDED|DEPROVISIONED)$'], '--skip') });
    expect([s.rows, s.skipped, s.oktaExport]).toEqual([1, 1, true]);
    expect(s.mapping).toEqual([
      { header: 'ID', column: 'userId' },
      { header: 'Username', column: 'login' },
    ]);
    expect(columnNotes(s)).toEqual([
      'Okta user export: reading "ID" as userId, "Username" as login; its other columns are ignored',
      '5 columns ignored (not input columns): "First name", "Last name", "Primary email", "Mobile phone", "Last login"',
    ]);
  });

  it('the Password Health report, the User Accounts report and the import template run as they are', async () => {
    const files = [
      'User,Login,Status,Activation date,Authentication Source,Last Login,Last Password Change\nJane Doe,jane@example.com,ACTIVE,2024-01-01,OKTA,,\n',
      'User fullname,Okta username,Primary Email,Okta user status,Status change date\nJane Doe,jane@example.com,jane@example.com,ACTIVE,\n',
      'login,firstName,lastName,email,mobilePhone\njane@example.com,Jane,Doe,jane@example.com,555-0100\n',
    ];
    for (const text of files) {
      const r = await rows(file(text), { allowUnknownColumns: true });
      expect(r.map((x) => x.value)).toEqual([{ row: 1, login: 'jane@example.com', factorType: 'push', provider: 'OKTA' }]);
    }
  });

  it('a file with enrollment columns is not an export: ID stays unknown, the phone is read', async () => {
    const f = file(`ID,login,factorType,First name,Last name,phone\nx1,jane@example.com,sms,Jane,Doe,+14155550100\n`);
    const r = await rows(f, { allowUnknownColumns: true });
    expect(r[0]!.value).toEqual({ row: 1, login: 'jane@example.com', factorType: 'sms', provider: 'OKTA', phoneNumber: '+14155550100' });
    expect((await inspectInput(f, { allowUnknownColumns: true })).ignoredColumns).toEqual(['ID', 'First name', 'Last name']);
  });
});

describe('hints for misnamed headers', () => {
  const cases: Array<[string, string]> = [
    ['Email,factorType', 'column 1 "Email": did you mean login?'],
    ['factorType,E-mail', 'column 2 "E-mail": did you mean login?'],
    ['Primary email', 'column 1 "Primary email": did you mean login?'],
    ['UPN,deviceName', 'column 1 "UPN": did you mean login?'],
    ['ID,factorType', 'column 1 "ID": did you mean userId? Rename it to userId if it holds Okta user ids like 00u1ab2cd3EF4gh5ij6k'],
  ];
  for (const [header, hint] of cases) {
    it(`${header}: ${hint.slice(0, 40)}…`, async () => {
      const f = file(`${header}\nx,push\n`);
      const e = await error(rows(f, { allowUnknownColumns: true }));
      expect(e).toBeInstanceOf(InputFileError);
      expect(e.message).toMatch(new RegExp(`^${f}, line 1: the header has neither a userId nor a login column`));
      expect(e.message).toContain(hint);
    });
  }

  it('aliases need no hint: Username, User name, Okta ID, User Id, user.login are read as they are', async () => {
    const r = await rows(file(`Okta ID,User name\n${ID1},jane@example.com\n`));
    expect(r[0]!.value).toEqual({ row: 1, userId: ID1, login: 'jane@example.com', factorType: 'push', provider: 'OKTA' });
    const r2 = await rows(file(`User Id,user.login\n${ID1},jane@example.com\n`));
    expect(r2[0]!.value).toMatchObject({ userId: ID1, login: 'jane@example.com' });
  });

  it('typos of known columns get "did you mean", other unknown columns none', async () => {
    const f = file(`userId,Loign,factor_typ,Cost Center\n${ID1},,,\n`);
    const e = await error(rows(f));
    expect(e.message).toContain('column 2 "Loign": did you mean login?; column 3 "factor_typ": did you mean factorType?');
    expect(e.message).not.toContain('"Cost Center": did you mean');
  });
});

describe('inputs that are not regular files are refused at once', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it('a FIFO with no writer, a device, a directory and a socket, each named', async () => {
    const fifo = join(tmp, 'users.fifo');
    execFileSync('mkfifo', [fifo]);
    const sock = join(tmp, 'users.sock');
    server = createServer();
    await new Promise<void>((r) => server!.listen(sock, r));
    const cases: Array<[string, string]> = [
      [fifo, `${fifo}: is a named pipe (FIFO), not a regular file: the file is read more than once; to pipe data in, give \`-\` as the file name and send the data to standard input`],
      ['/dev/null', '/dev/null: is a device (character device), not a regular file; expected a CSV file'],
      [tmp, `${tmp}: is a directory, expected a CSV file`],
      [sock, `${sock}: is a socket, not a regular file: the file is read more than once; to pipe data in, give \`-\` as the file name and send the data to standard input`],
    ];
    const started = Date.now();
    for (const [path, message] of cases) {
      for (const p of [rows(path), inspectInput(path), hashFile(path)]) {
        const e = await error(p);
        expect(e).toBeInstanceOf(InputFileError);
        expect(e.message).toBe(message);
      }
    }
    const report = await error((async () => {
      for await (const _ of readReport(fifo)) void _;
    })());
    expect(report.message).toMatch(/is a named pipe \(FIFO\)/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
