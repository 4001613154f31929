/**
 * The summary people read: `run` against the real simulator and Redis
 * (test/helpers/redis.ts) prints a compact table and writes `<report>.html`, whose
 * counts equal the report's; hostile input cells are escaped.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { collectSummary, escapeHtml, formatSummaryTable, renderSummaryHtml, summaryPathFor } from '../../src/summary/html.js';
import { REPORT_COLUMNS, type ReportRow } from '../../src/csv/report.js';
import { buildScenario } from '../helpers/scenario.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { collector, HOSTILE } from './helpers.js';

const row = (over: Partial<ReportRow>): ReportRow => ({ ...(Object.fromEntries(REPORT_COLUMNS.map((c) => [c, ''])) as ReportRow), ...over });

/** The number in the element carrying data-count="<outcome>". */
function htmlCount(html: string, outcome: string): number | undefined {
  const m = html.match(new RegExp(`data-count="${outcome}">(\\d+)<`));
  return m ? Number(m[1]) : undefined;
}

describe('rendering', () => {
  it('escapes every value that came from the input or from Okta', async () => {
    const rows = [
      row({ row: '1', outcome: 'activated', login: 'a@example.com' }),
      row({ row: '2', outcome: 'failed', login: `${HOSTILE}@example.com`, deviceName: '<img src=x onerror=alert(1)>', errorCode: 'E0000007', errorSummary: `Not found: "${HOSTILE}" & 'more'` }),
      row({ row: '3', outcome: 'failed', userId: '00u"onmouseover="x', errorCode: '<b>X</b>', errorSummary: '`tick`' }),
    ];
    const s = await collectSummary(rows);
    expect(s.counts).toEqual({ total: 3, activated: 1, expired: 0, failed: 2, pending: 0 });
    const html = renderSummaryHtml({ runId: 'r<1>', source: `${HOSTILE}.csv`, ...s, reportPath: '/x/<r>.csv', generatedAt: new Date(0) });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>X</b>');
    expect(html).not.toContain('"onmouseover="');
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('Not found: &quot;&lt;script&gt;');
    expect(html).toContain('&#96;tick&#96;');
    // self-contained: no external asset, no script
    expect(html).not.toMatch(/<(script|link|iframe)\b|src=["']?http|url\(/i);
    expect(html).toContain("default-src 'none'");
    expect(htmlCount(html, 'failed')).toBe(2);
  });

  it('lists at most the cap of failed rows but counts all of them', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => row({ row: String(i + 1), outcome: 'failed', errorCode: i % 2 ? 'E0000007' : 'INVALID_INPUT' }));
    const s = await collectSummary(rows, 10);
    expect(s.failedRows).toHaveLength(10);
    expect(s.counts.failed).toBe(30);
    expect(s.failuresByCode).toEqual({ E0000007: 15, INVALID_INPUT: 15 });
    const html = renderSummaryHtml({ runId: 'r', ...s, reportPath: 'r.csv', generatedAt: new Date(0) });
    expect(html).toContain('The first 10 of 30 failed rows are listed');
  });

  it('the compact table: outcomes with shares, calls, 429s, effective rate', () => {
    const t = formatSummaryTable({ runId: 'R', counts: { total: 200, activated: 150, expired: 30, failed: 20, pending: 0 }, durationMs: 60_000, calls: 600, rateLimited: 4 });
    expect(t.split('\n')).toEqual([
      'Run R: 200 rows in 60.0 s',
      '  activated 150     75.0%',
      '  expired   30      15.0%',
      '  failed    20      10.0%',
      '  calls     600    429s 4  effective 600 calls/min (10.0/s)',
    ]);
  });
});

describe('at the end of run', () => {
  let dir: string;
  let prefix: string;
  let sim: SimulatorHandle | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'be-summary-'));
    prefix = uniquePrefix('summary');
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await cleanPrefix(redisUrl(), prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the table and writes <report>.html whose counts equal the report and whose hostile cells are escaped', async () => {
    const scenario = buildScenario(dir, { users: 60, seed: 11 });
    // Hostile rows: an unknown login with markup, a device name with markup.
    appendFileSync(scenario.inputCsv, `,"${HOSTILE}@example.com",push,OKTA,"<img src=x onerror=alert(1)>"\r\n`);
    appendFileSync(scenario.inputCsv, `00unknownhostile0001,,push,OKTA,"${HOSTILE}"\r\n`);
    const token = 'summary-token-0123456789';
    sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, onDuplicate: 'allow', rateLimit: 100_000, token });
    const report = join(dir, 'report.csv');
    const out = collector();
    await runCommand(
      scenario.inputCsv,
      { report, orgUrl: sim.url, redis: redisUrl(), prefix, rateLimit: '100000', usersRateLimit: '100000', pollInitialMs: '100', logFile: join(dir, 'run.log'), logLevel: 'warn' },
      { env: { OKTA_API_TOKEN: token }, out: out.stream },
    );
    const rows = readReportFile(report);
    const count = (o: string) => rows.filter((r) => r.outcome === o).length;
    expect(rows).toHaveLength(scenario.expected.length + 2);
    expect(count('failed')).toBeGreaterThan(2);

    const htmlFile = summaryPathFor(report);
    expect(htmlFile).toBe(`${report}.html`);
    expect(statSync(htmlFile).mode & 0o077).toBe(0);
    const html = readFileSync(htmlFile, 'utf8');
    for (const o of ['activated', 'expired', 'failed']) expect(htmlCount(html, o), o).toBe(count(o));
    expect(htmlCount(html, 'total')).toBe(rows.length);
    // every failed row is listed with its code and reason
    const listed = html.match(/<table class="failed">[\s\S]*?<\/table>/)![0];
    expect((listed.match(/<tr>/g) ?? []).length - 1).toBe(count('failed'));
    for (const r of rows.filter((x) => x.outcome === 'failed')) expect(listed).toContain(escapeHtml(r.errorSummary));
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain('<img');
    expect(html).toContain(escapeHtml(`${HOSTILE}@example.com`));

    const text = out.text();
    expect(text).toMatch(new RegExp(`activated ${count('activated')}\\s+\\d+\\.\\d%`));
    expect(text).toMatch(/calls\s+\d+\s+429s 0\s+effective \d+ calls\/min/);
    const calls = Number(text.match(/calls\s+(\d+)/)![1]);
    expect(calls).toBe(sim.stats().requests.total);
    expect(text).toContain(`Summary: ${htmlFile}`);
  });
});
