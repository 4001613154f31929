/**
 * The summary people read: a self-contained HTML page written next to the report
 * (`<report>.html`) with the counts, a bar of outcomes and the rows that failed with
 * their reasons. Inline CSS, no scripts, no external assets: it opens offline and can
 * be mailed. Every value that came from the input or from Okta is escaped.
 *
 * The counts are taken from the same rows the report CSV is written from
 * (reportRows), so the page and the report cannot disagree.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReportRow } from '../csv/report.js';

/** How many failed rows the page lists (the count is always exact). */
export const LISTED_FAILURES = 1000;

export const SUMMARY_SUFFIX = '.html';

export function summaryPathFor(reportPath: string): string {
  return `${reportPath}${SUMMARY_SUFFIX}`;
}

export interface OutcomeCounts {
  total: number;
  activated: number;
  expired: number;
  failed: number;
  pending: number;
}

export interface SummaryData {
  runId: string;
  /** What the run read: a file name or `group <id>`. */
  source?: string;
  counts: OutcomeCounts;
  /** Failed rows (the first LISTED_FAILURES of them), in report order. */
  failedRows: ReportRow[];
  /** Failure count per errorCode. */
  failuresByCode: Record<string, number>;
  durationMs?: number;
  /** Okta calls this run made, and how many were answered 429. */
  calls?: number;
  rateLimited?: number;
  reportPath: string;
  generatedAt: Date;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escape text for an HTML text node or a quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => HTML_ESCAPES[c]!);
}

/** Counts and failed rows from report rows (one pass; only the listed failures are kept). */
export async function collectSummary(
  rows: AsyncIterable<ReportRow> | Iterable<ReportRow>,
  maxListed = LISTED_FAILURES,
): Promise<Pick<SummaryData, 'counts' | 'failedRows' | 'failuresByCode'>> {
  const counts: OutcomeCounts = { total: 0, activated: 0, expired: 0, failed: 0, pending: 0 };
  const failedRows: ReportRow[] = [];
  const failuresByCode: Record<string, number> = {};
  for await (const r of rows as AsyncIterable<ReportRow>) {
    counts.total++;
    switch (r.outcome) {
      case 'activated':
      case 'expired':
      case 'failed':
      case 'pending':
        counts[r.outcome]++;
        break;
      default:
        counts.pending++;
    }
    if (r.outcome === 'failed') {
      const code = r.errorCode || 'UNKNOWN';
      failuresByCode[code] = (failuresByCode[code] ?? 0) + 1;
      if (failedRows.length < maxListed) failedRows.push(r);
    }
  }
  return { counts, failedRows, failuresByCode };
}

const COLORS = { activated: '#2e7d32', expired: '#ef6c00', failed: '#c62828', pending: '#78909c' } as const;
const ORDER = ['activated', 'expired', 'failed', 'pending'] as const;

function pct(n: number, total: number): string {
  return total ? `${((n / total) * 100).toFixed(1)}%` : '0.0%';
}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function renderSummaryHtml(d: SummaryData): string {
  const { counts } = d;
  const bar = ORDER.filter((o) => counts[o] > 0)
    .map(
      (o) =>
        `<div class="seg" style="width:${counts.total ? ((counts[o] / counts.total) * 100).toFixed(3) : 0}%;background:${COLORS[o]}" title="${o}: ${counts[o]}"></div>`,
    )
    .join('');
  const countRows = ORDER.filter((o) => o !== 'pending' || counts.pending > 0)
    .map(
      (o) =>
        `<tr data-outcome="${o}"><td><span class="dot" style="background:${COLORS[o]}"></span>${o}</td><td class="num" data-count="${o}">${counts[o]}</td><td class="num">${pct(counts[o], counts.total)}</td></tr>`,
    )
    .join('\n');
  const facts: string[] = [];
  if (d.durationMs !== undefined) facts.push(`<dt>Duration</dt><dd>${escapeHtml(fmtDuration(d.durationMs))}</dd>`);
  if (d.calls !== undefined) {
    facts.push(`<dt>Okta calls</dt><dd data-calls>${d.calls}</dd>`);
    if (d.durationMs) facts.push(`<dt>Effective rate</dt><dd>${((d.calls / d.durationMs) * 60_000).toFixed(0)} calls/min</dd>`);
  }
  if (d.rateLimited !== undefined) facts.push(`<dt>429 answers</dt><dd data-rate-limited>${d.rateLimited}</dd>`);
  const codes = Object.entries(d.failuresByCode)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([code, n]) => `<li><code>${escapeHtml(code)}</code> ${n}</li>`)
    .join('');
  const failed = d.failedRows
    .map(
      (r) =>
        `<tr><td class="num">${escapeHtml(r.row)}</td><td>${escapeHtml(r.userId)}</td><td>${escapeHtml(r.login)}</td><td>${escapeHtml(r.factorType)}</td><td>${escapeHtml(r.deviceName)}</td><td><code>${escapeHtml(r.errorCode)}</code></td><td>${escapeHtml(r.errorSummary)}</td></tr>`,
    )
    .join('\n');
  const more = counts.failed > d.failedRows.length ? `<p class="note">The first ${d.failedRows.length} of ${counts.failed} failed rows are listed; the report CSV has all of them.</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>bulk-enroll run ${escapeHtml(d.runId)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin-top:2rem}
.sub{color:#666;margin:0 0 1.2rem}
.bar{display:flex;height:22px;border-radius:4px;overflow:hidden;background:#eceff1;margin:1rem 0}
.seg{height:100%}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e0e0e0;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.counts{width:auto;min-width:320px}
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;margin-right:.4rem}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#666}dd{margin:0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
.note{color:#666}td{word-break:break-word}
</style>
</head>
<body>
<h1>Run ${escapeHtml(d.runId)}</h1>
<p class="sub">${d.source ? `${escapeHtml(d.source)} · ` : ''}${counts.total} rows · report <code>${escapeHtml(basename(d.reportPath))}</code> · generated ${escapeHtml(d.generatedAt.toISOString())}</p>
<div class="bar" role="img" aria-label="${ORDER.map((o) => `${o} ${counts[o]}`).join(', ')}">${bar}</div>
<table class="counts"><thead><tr><th>Outcome</th><th class="num">Rows</th><th class="num">Share</th></tr></thead>
<tbody>
${countRows}
<tr><th>total</th><th class="num" data-count="total">${counts.total}</th><th></th></tr>
</tbody></table>
${facts.length ? `<dl>${facts.join('')}</dl>` : ''}
<h2>Failed rows (${counts.failed})</h2>
${codes ? `<ul>${codes}</ul>` : '<p class="note">No row failed.</p>'}
${
  failed
    ? `<table class="failed"><thead><tr><th class="num">Row</th><th>userId</th><th>login</th><th>factorType</th><th>deviceName</th><th>errorCode</th><th>Reason</th></tr></thead>
<tbody>
${failed}
</tbody></table>`
    : ''
}
${more}
</body>
</html>
`;
}

/** Write the page owner-only (0600), atomically (temp file + rename), like the report. */
export async function writeSummaryHtml(file: string, d: SummaryData): Promise<string> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(renderSummaryHtml(d), 'utf8');
    await handle.sync();
    await handle.close();
    await rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return file;
}

/** The compact table `run` prints at the end. */
export function formatSummaryTable(d: {
  runId: string;
  counts: OutcomeCounts;
  durationMs: number;
  calls?: number;
  rateLimited?: number;
}): string {
  const { counts } = d;
  const secs = d.durationMs / 1000;
  const w = Math.max(5, String(counts.total).length);
  const line = (label: string, n: number) => `  ${label.padEnd(9)} ${String(n).padEnd(w)}  ${pct(n, counts.total).padStart(6)}`;
  const lines = [`Run ${d.runId}: ${counts.total} rows in ${secs.toFixed(1)} s`];
  for (const o of ORDER) if (o !== 'pending' || counts.pending) lines.push(line(o, counts[o]));
  if (d.calls !== undefined) {
    const perMin = secs > 0 ? (d.calls / secs) * 60 : 0;
    lines.push(`  calls     ${String(d.calls).padEnd(w)}  429s ${d.rateLimited ?? 0}  effective ${perMin.toFixed(0)} calls/min (${(perMin / 60).toFixed(1)}/s)`);
  }
  return lines.join('\n');
}
