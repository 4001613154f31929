/**
 * The layout's rules, checked on the source (pure, no Redis): no import cycles anywhere in
 * src/ and jobs/; src/ never imports jobs/ (only src/commands hands the task list to the
 * runtime); jobs/ never reaches the CLI, the commands or the simulator; the simulator and the
 * Okta client never import each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of a file (static, dynamic and type-only), resolved to a .ts path under ROOT. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = (m[1] ?? m[2])!.replace(/\.js$/, '.ts');
    out.add(resolve(dirname(file), spec));
  }
  return [...out];
}

const sources = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'jobs'))];
const graph = new Map(sources.map((f) => [f, importsOf(f).filter((i) => sources.includes(i))]));
const rel = (f: string) => relative(ROOT, f);

describe('layout', () => {
  it('has no import cycles (type-only imports included)', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const to of graph.get(f) ?? []) {
        if (state.get(to) === 'open') cycles.push([...stack.slice(stack.indexOf(to)), to].map(rel).join(' → '));
        else if (!state.has(to)) visit(to);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of sources) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('src/ never imports jobs/ except the commands that hand the task list to the runtime', () => {
    const bad = [...graph].flatMap(([from, tos]) =>
      rel(from).startsWith('src/') && !rel(from).startsWith('src/commands/') ? tos.filter((t) => rel(t).startsWith('jobs/')).map((t) => `${rel(from)} → ${rel(t)}`) : [],
    );
    expect(bad).toEqual([]);
  });

  it('jobs/ never reaches the CLI, the commands or the simulator', () => {
    const bad = [...graph].flatMap(([from, tos]) =>
      rel(from).startsWith('jobs/') ? tos.filter((t) => /^src\/(cli\.ts|commands\/|simulator\/)/.test(rel(t))).map((t) => `${rel(from)} → ${rel(t)}`) : [],
    );
    expect(bad).toEqual([]);
  });

  it('the simulator and the Okta client never import each other', () => {
    const bad = [...graph].flatMap(([from, tos]) => {
      const a = rel(from);
      return tos
        .filter((t) => (a.startsWith('src/simulator/') && rel(t).startsWith('src/okta/')) || (a.startsWith('src/okta/') && rel(t).startsWith('src/simulator/')))
        .map((t) => `${a} → ${rel(t)}`);
    });
    expect(bad).toEqual([]);
  });
  it("reads the import graph (sanity: the runtime imports its connection module)", () => {
    const runtime = sources.find((f) => rel(f) === "src/queue/runtime.ts")!;
    expect((graph.get(runtime) ?? []).map(rel)).toContain("src/queue/connection.ts");
    expect([...graph.values()].reduce((n, t) => n + t.length, 0)).toBeGreaterThan(300);
  });
});
