/**
 * The dashboard's own pages: the list of runs and one page per run (counts by outcome,
 * progress, a link to its report). Plain server-rendered HTML with inline CSS and no
 * scripts; every value from Redis (file names, run ids, input cells) is escaped.
 */
import { escapeHtml } from '../summary/html.js';

export interface RunView {
  runId: string;
  state: string;
  source: string;
  command: string;
  createdAt: string;
  finishedAt?: string;
  total?: number;
  stored: number;
  done: number;
  activated: number;
  expired: number;
  failed: number;
}

const COLORS = { activated: '#2e7d32', expired: '#ef6c00', failed: '#c62828' } as const;
const OUTCOMES = ['activated', 'expired', 'failed'] as const;

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.35rem}nav a{margin-right:1rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e0e0e0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;height:18px;border-radius:4px;overflow:hidden;background:#eceff1;margin:.8rem 0}.seg{height:100%}
.state{padding:.1rem .4rem;border-radius:3px;background:#eceff1;font-size:.9em}
.muted{color:#666}code{font-family:ui-monospace,Menlo,Consolas,monospace}`;

function layout(title: string, body: string, refreshSeconds?: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><nav><a href="/">Runs</a><a href="/queues">Queues</a></nav>
${body}
</body></html>
`;
}

function totalText(r: RunView): string {
  return r.total === undefined ? '?' : String(r.total);
}

function bar(r: RunView): string {
  const denom = r.total ?? Math.max(r.stored, r.done, 1);
  return `<div class="bar" role="img" aria-label="${OUTCOMES.map((o) => `${o} ${r[o]}`).join(', ')}">${OUTCOMES.filter((o) => r[o] > 0)
    .map((o) => `<div class="seg" style="width:${((r[o] / Math.max(denom, 1)) * 100).toFixed(3)}%;background:${COLORS[o]}"></div>`)
    .join('')}</div>`;
}

export function runLink(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

export function renderRunList(prefix: string, runs: RunView[]): string {
  const rows = runs
    .map(
      (r) => `<tr data-run="${escapeHtml(r.runId)}"><td><a href="${escapeHtml(runLink(r.runId))}"><code>${escapeHtml(r.runId)}</code></a></td><td>${escapeHtml(r.source)}</td>
<td><span class="state">${escapeHtml(r.state)}</span></td><td class="num">${r.done}/${totalText(r)}</td>
<td class="num">${r.activated}</td><td class="num">${r.expired}</td><td class="num">${r.failed}</td><td class="muted">${escapeHtml(r.createdAt)}</td></tr>`,
    )
    .join('\n');
  return layout(
    'bulk-enroll runs',
    `<h1>Runs <span class="muted">(prefix <code>${escapeHtml(prefix)}</code>)</span></h1>
${runs.length ? `<table><thead><tr><th>Run</th><th>Input</th><th>State</th><th class="num">Done</th><th class="num">Activated</th><th class="num">Expired</th><th class="num">Failed</th><th>Created</th></tr></thead><tbody>
${rows}
</tbody></table>` : '<p class="muted">No runs yet.</p>'}`,
    runs.some((r) => r.state !== 'finished') ? 10 : undefined,
  );
}

export function renderRunPage(r: RunView): string {
  const pct = r.total ? ((r.done / r.total) * 100).toFixed(1) : undefined;
  const counts = OUTCOMES.map(
    (o) => `<tr><td><span style="color:${COLORS[o]}">&#9632;</span> ${o}</td><td class="num" data-count="${o}">${r[o]}</td></tr>`,
  ).join('\n');
  const pending = r.total === undefined ? '?' : String(Math.max(0, r.total - r.done));
  return layout(
    `Run ${r.runId}`,
    `<h1>Run <code>${escapeHtml(r.runId)}</code> <span class="state" data-state>${escapeHtml(r.state)}</span></h1>
<p class="muted">${escapeHtml(r.command)} · ${escapeHtml(r.source)} · created ${escapeHtml(r.createdAt)}${r.finishedAt ? ` · finished ${escapeHtml(r.finishedAt)}` : ''}</p>
<p><strong data-progress>${r.done}/${totalText(r)}</strong> rows done${pct !== undefined ? ` (${pct}%)` : r.total === undefined ? ' (the total is known once the whole input is read)' : ''}</p>
${bar(r)}
<table style="width:auto;min-width:280px"><tbody>
${counts}
<tr><td>pending</td><td class="num" data-count="pending">${pending}</td></tr>
</tbody></table>
<p><a href="${escapeHtml(runLink(r.runId))}/report.csv" download>Download the report (CSV)</a>${r.state === 'finished' ? '' : ' <span class="muted">(partial: rows not finished yet are <code>pending</code>)</span>'}</p>`,
    r.state === 'finished' ? undefined : 5,
  );
}
