/**
 * `npm run bench`: starts its own Redis and Okta simulator per scenario, runs the real
 * runner against them, and prints one table row per scenario (also written to
 * bench/out/latest.md). Every scenario ends by itself; Ctrl-C stops whatever is
 * running (Redis, simulator, runner, spawned CLI processes) before exiting.
 *
 *   npm run bench -- [--only budget,mix,lifted,memory,anchor] [--quick] [--long] [--repeat N]
 *
 * Traffic goes to 127.0.0.1 only. See the README's "Performance" section.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installSignalHandlers } from './lib/cleanup.js';
import { detectOption } from './lib/runner.js';
import { median } from './lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from './lib/types.js';
import { budgetCases } from './scenarios/budget.js';
import { anchorCases } from './scenarios/anchor.js';
import { mixCases } from './scenarios/mix.js';
import { liftedCases } from './scenarios/lifted.js';
import { memoryCases } from './scenarios/memory.js';

const SCENARIOS = ['budget', 'anchor', 'mix', 'lifted', 'memory'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const USAGE = `Usage: npm run bench -- [--only <${SCENARIOS.join('|')}>[,…]] [--quick] [--long] [--repeat N]
  --only     run only these scenarios (comma separated, or the flag repeated)
  --quick    smaller populations (about a minute in all)
  --long     also the Budget and Anchor runs with 60 s windows (about 3 min each)
  --repeat   run each scenario N times and report medians (default 1)`;

interface Args {
  only: ScenarioName[];
  quick: boolean;
  long: boolean;
  repeat: number;
}

function parseBenchArgs(argv: string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        only: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        long: { type: 'boolean', default: false },
        repeat: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const only = (parsed.values.only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: expected one of ${SCENARIOS.join(', ')}, got \`${name}\``);
  }
  const repeat = Number(parsed.values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error(`--repeat: expected a whole number from 1 to 20, got \`${parsed.values.repeat}\``);
  return { only: (only.length ? only : [...SCENARIOS]) as ScenarioName[], quick: parsed.values.quick, long: parsed.values.long, repeat };
}

function machine(): string {
  let redis = 'redis-server not found';
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    redis = `Redis ${/v=(\S+)/.exec(out)?.[1] ?? out.trim()}`;
  } catch {
    // reported as not found
  }
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM, Node ${process.version}, ${redis}`;
}

/**
 * Medians of every metric over the repetitions, and their spread (`min:<metric>`,
 * `max:<metric>`, `runs`) for rows that print it; words from the last one.
 */
function combine(ms: Measurement[]): Measurement {
  const keys = new Set(ms.flatMap((m) => Object.keys(m.metrics)));
  const metrics: Record<string, number> = { runs: ms.length };
  for (const k of keys) {
    const values = ms.map((m) => m.metrics[k] ?? NaN).filter((v) => Number.isFinite(v));
    metrics[k] = median(values);
    metrics[`min:${k}`] = values.length ? Math.min(...values) : NaN;
    metrics[`max:${k}`] = values.length ? Math.max(...values) : NaN;
  }
  return { metrics, info: ms[ms.length - 1]!.info };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(rows: TableRow[]): string {
  const lines = ['| # | Scenario | Result | Target | Verdict |', '|---|---|---|---|---|'];
  rows.forEach((r, i) => lines.push(`| ${i + 1} | ${cell(r.scenario)} | ${cell(r.result)} | ${cell(r.target)} | ${r.verdict} |`));
  lines.push('', 'What the figures mean:', '');
  rows.forEach((r, i) => {
    if (r.note) lines.push(`${i + 1}. ${r.note}`);
  });
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  installSignalHandlers();
  const ctx: BenchContext = { quick: args.quick, long: args.long, detect: detectOption() };
  const all: Case[] = [...budgetCases(ctx), ...anchorCases(ctx), ...mixCases(ctx), ...liftedCases(ctx), ...memoryCases(ctx)];
  // Budget and its anchor side by side, in the order of the issue otherwise.
  const order = (c: Case) => ['budget-2s', 'anchor-2s', 'budget-60s', 'anchor-60s', 'mix-poll', 'mix-log', 'lifted', 'memory'].indexOf(c.id);
  const cases = all.filter((c) => args.only.includes(c.scenario)).sort((a, b) => order(a) - order(b));

  const started = new Date();
  const header =
    `bulk-enroll bench, ${started.toISOString()}${args.quick ? ' (--quick)' : ''}${args.repeat > 1 ? ` (medians of ${args.repeat} runs)` : ''}\n` +
    `Machine: ${machine()}\n` +
    `Command: npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\n` +
    `System Log watcher: ${ctx.detect ? `${ctx.detect.flag} (run flag)` : 'not available'}\n`;
  process.stderr.write(header);

  const results = new Map<string, Measurement>();
  const failures = new Map<string, string>();
  for (const c of cases) {
    if (!c.run) continue;
    const ms: Measurement[] = [];
    for (let i = 1; i <= args.repeat; i++) {
      const t = Date.now();
      process.stderr.write(`bench: ${c.id}${args.repeat > 1 ? ` (${i}/${args.repeat})` : ''} …\n`);
      try {
        ms.push(await c.run());
        process.stderr.write(`bench: ${c.id} done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
      } catch (err) {
        const message = (err as Error).message;
        failures.set(c.id, message);
        process.stderr.write(`bench: ${c.id} failed after ${((Date.now() - t) / 1000).toFixed(1)} s: ${message}\n`);
        break;
      }
    }
    if (ms.length && !failures.has(c.id)) results.set(c.id, combine(ms));
  }

  const rows: TableRow[] = [];
  for (const c of cases) {
    const m = results.get(c.id);
    const got = c.rows ? c.rows(m, results) : [c.row!(m, results)];
    const failure = failures.get(c.id);
    for (const r of got) rows.push(failure ? { ...r, result: 'failed', note: `failed: ${failure.slice(0, 400)}` } : r);
  }
  const elapsed = ((Date.now() - started.getTime()) / 1000).toFixed(0);
  const text = `${header}Took ${elapsed} s.\n\n${table(rows)}\n`;
  process.stdout.write(`\n${text}`);
  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}latest.md`, text);
  process.stderr.write(`bench: table written to bench/out/latest.md\n`);
  if (failures.size) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
