// A strict reader of the Prometheus text exposition format (version 0.0.4), and a scrape over node:http.
import { request } from "node:http";

/** Sample is one line `name{label="value",...} value` of the exposition text. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Exposition is a parsed scrape: the samples, and each metric family's TYPE. */
export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  /** value sums the samples named `name` whose labels include `labels` (0 when none match). */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  if (/^[+-]?inf$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  const n = Number(text);
  if (text === "" || Number.isNaN(n)) throw new Error(`not a sample value: ${line}`);
  return n;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const m = LABEL.exec(rest);
    if (m === null) throw new Error(`bad labels in: ${line}`);
    if (Object.hasOwn(labels, m[1]!)) throw new Error(`label ${m[1]} twice in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    rest = rest.slice(m[0].length);
  }
  return labels;
}

// family is the metric family a sample belongs to: histogram samples end in _bucket, _sum or _count.
function family(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" || types.get(base) === "summary" ? base : undefined;
}

/**
 * parseExposition reads exposition text strictly: every sample belongs to a family declared by `# TYPE`
 * before it, names and labels follow the grammar, values are numbers (NaN and ±Inf included), and each
 * histogram's buckets are cumulative with `+Inf` equal to its `_count`. Throws on the first violation.
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) continue; // a plain comment
      if (!NAME.test(m[2]!)) throw new Error(`bad metric name: ${line}`);
      if (m[1] === "TYPE") {
        if (!TYPES.has(m[3] ?? "")) throw new Error(`bad TYPE: ${line}`);
        if (types.has(m[2]!)) throw new Error(`TYPE twice: ${line}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    if (family(m[1]!, types) === undefined) throw new Error(`sample before its TYPE: ${line}`);
    samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? "", line), value: parseValue(m[3]!, line) });
  }
  checkHistograms(samples, types);
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  return { samples, types, value };
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of samples) {
    const base = s.name.replace(/_(bucket|count)$/, "");
    if (types.get(base) !== "histogram" || s.name === `${base}_sum`) continue;
    const { le, ...rest } = s.labels;
    const key = `${base}${JSON.stringify(rest)}`;
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith("_count")) entry.count = s.value;
    else entry.buckets.push([parseValue(le ?? "", `${s.name} without le`), s.value]);
  }
  for (const [key, { buckets, count }] of series) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${key}: buckets are not cumulative`);
    }
    const inf = buckets.at(-1);
    if (inf?.[0] !== Infinity || inf[1] !== count) throw new Error(`${key}: the +Inf bucket is not the count`);
  }
}

/** scrape GETs `http://address/metrics` (or another path) on a fresh connection: status and body. */
export function scrape(address: string, path = "/metrics"): Promise<{ status: number; body: string; contentType: string }> {
  const colon = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, contentType: String(res.headers["content-type"]) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** scrapeMetrics scrapes `/metrics`, expects 200, and parses the text. */
export async function scrapeMetrics(address: string): Promise<Exposition> {
  const res = await scrape(address);
  if (res.status !== 200) throw new Error(`scrape of ${address} answered ${res.status}: ${res.body}`);
  return parseExposition(res.body);
}
