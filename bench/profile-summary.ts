/**
 * profile-summary prints where a `.cpuprofile` (from `npx tsx bench/run.ts --cpu-prof <dir>`) spent its
 * time: the top functions by self time, and self time grouped by where the code lives (a package under
 * node_modules, node's internals, the repository's own folders, GC, idle), and the inclusive time of
 * the repository's own functions (time with the function anywhere on the stack).
 * Usage: `npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 25]`
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

/** Internal: the parts of V8's CPU profile format this summary reads. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** whereOf names the place a frame's code lives: a package, node's internals, or a repository folder. */
export function whereOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return packageMatch[1] as string;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const repoMatch = /\/(server|bench|gen|client)\/([^/]+)/.exec(url);
  return repoMatch ? `${repoMatch[1]}/${repoMatch[2]}` : url;
}

function summarize(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((a, [, us]) => a + us, 0);
  const busy = total - idle;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === "(idle)") continue;
    const place = whereOf(frame.url, frame.functionName);
    const name = `${frame.functionName || "(anonymous)"} ${place}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  const inclusive = inclusiveRepoTime(profile, byId);
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const rank = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%); shares of busy time`,
    "",
    "self time by place:",
    ...rank(byPlace).map(([place, us]) => `  ${pct(us)}  ${place}`),
    "",
    "self time by function:",
    ...rank(byFunction).map(([name, us]) => `  ${pct(us)}  ${name}`),
    "",
    "inclusive time of repository functions (server/, bench/, client/):",
    ...rank(inclusive).map(([name, us]) => `  ${pct(us)}  ${name}`),
  ].join("\n");
}

/** Internal: for each repository function, the time of samples with it anywhere on the stack. */
function inclusiveRepoTime(profile: CpuProfile, byId: Map<number, ProfileNode>): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const out = new Map<string, number>();
  profile.samples.forEach((leaf, i) => {
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || !/\/(server|bench|client)\//.test(frame.url) || frame.url.includes("node_modules")) continue;
      seen.add(`${frame.functionName || "(anonymous)"} ${whereOf(frame.url, frame.functionName)}:${frame.lineNumber + 1}`);
    }
    for (const name of seen) out.set(name, (out.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return out;
}

function main(): void {
  const { values, positionals } = parseArgs({ options: { top: { type: "string" } }, allowPositionals: true });
  if (positionals.length === 0) {
    process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile>... [--top 25]\n");
    process.exit(2);
  }
  for (const file of positionals) console.log(`${summarize(file, Number(values.top ?? 25))}\n`);
}

main();
