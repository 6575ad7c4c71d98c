import type { Registry } from "prom-client";

/** Labels are one series' label values by name. */
export type Labels<L extends string = string> = Readonly<Record<L, string>>;

/** CounterChild is one series of a FastCounter: a plain number. */
export interface CounterChild {
  inc(value?: number): void;
}

/** HistogramChild is one series of a FastHistogram: plain bucket counts, a sum and a count. */
export interface HistogramChild {
  observe(value: number): void;
}

// Internal: what prom-client's Registry (exposition, cluster aggregator, reset) reads of a metric.
interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/**
 * FastCounter is a Prometheus counter registered in a prom-client Registry (its exposition and its
 * cluster aggregator read it through `get()`, as they read prom-client's own metrics) whose series are
 * made once, by `child(labels)`, and then cost one addition per `inc`. prom-client 15's own `labels()`
 * children hash and validate their labels on every call: on the path of every RPC and memcached command,
 * that was most of what metrics cost.
 */
export class FastCounter<L extends string = string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** child returns the series of `labels` (made at 0 the first time: it is exported from then on). */
  child(labels: Labels<L>): CounterChild {
    const series = seriesOf(this.series, this.labelNames, labels, () => ({ labels: { ...labels }, value: 0 }));
    return {
      inc(value = 1) {
        series.value += value;
      },
    };
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values = [...this.series.values()].map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series.values()) series.value = 0;
  }
}

/**
 * FastHistogram is a Prometheus histogram in the manner of FastCounter: `child(labels)` once, then each
 * `observe` finds its bucket and adds, with no string work. Exported as prom-client exports a histogram
 * (cumulative `_bucket` series with `le`, then `+Inf`, `_sum` and `_count`).
 */
export class FastHistogram<L extends string = string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, { labels: Labels; buckets: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** child returns the series of `labels` (made empty the first time: it is exported from then on). */
  child(labels: Labels<L>): HistogramChild {
    const bounds = this.upperBounds;
    const series = seriesOf(this.series, this.labelNames, labels, () => ({
      labels: { ...labels },
      buckets: new Float64Array(bounds.length),
      sum: 0,
      count: 0,
    }));
    return {
      observe(value) {
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        if (i < bounds.length) series.buckets[i]!++;
        series.sum += value;
        series.count++;
      },
    };
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, buckets, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { ...labels, le: String(le) }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: count, metricName: bucket });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series.values()) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

// seriesOf finds or makes the series of `labels`, which must name exactly `labelNames` (a programming
// error otherwise: label sets are fixed in code, never taken from callers).
function seriesOf<T>(all: Map<string, T>, labelNames: readonly string[], labels: Labels, make: () => T): T {
  const key = labelNames.map((name) => labels[name]).join("\u0000");
  let series = all.get(key);
  if (series === undefined) {
    const names = Object.keys(labels);
    if (names.length !== labelNames.length || labelNames.some((name) => typeof labels[name] !== "string")) {
      throw new TypeError(`metric labels ${JSON.stringify(labels)} do not match ${labelNames.join(", ")}`);
    }
    series = make();
    all.set(key, series);
  }
  return series;
}
