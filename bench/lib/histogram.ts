/**
 * Internal: values are whole microseconds. Values below 2^SUB_BITS are exact; above, each power of two is
 * split into 2^(SUB_BITS-1) buckets, so a bucket is at most 1/64 (1.6%) wide relative to its value.
 */
const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS;
const HALF = SUB_COUNT >> 1;
const MAX_MICROS = 60_000_000;

function bucketOf(micros: number): number {
  const v = Math.min(Math.max(0, Math.round(micros)), MAX_MICROS);
  if (v < SUB_COUNT) return v;
  const shift = 31 - Math.clz32(v) - (SUB_BITS - 1);
  return SUB_COUNT + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

function lowestOf(bucket: number): number {
  if (bucket < SUB_COUNT) return bucket;
  const shift = Math.floor((bucket - SUB_COUNT) / HALF) + 1;
  const sub = ((bucket - SUB_COUNT) % HALF) + HALF;
  return sub << shift;
}

const BUCKETS = bucketOf(MAX_MICROS) + 1;

/** HistogramData is a histogram in a plain form that crosses IPC and JSON: one count per bucket. */
export type HistogramData = number[];

/**
 * LatencyHistogram counts latencies in log-linear buckets (at most 1.6% wide, up to 60 s), so that
 * recording costs a few instructions and the histograms of several load processes merge exactly.
 */
export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  /** total is the number of recorded values. */
  total = 0;

  /** record adds one latency, in milliseconds (as `performance.now()` differences give). */
  record(ms: number): void {
    const bucket = bucketOf(ms * 1000);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.total++;
  }

  /** reset forgets everything recorded (the end of a warm-up). */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** merge adds another histogram's counts (from `toData()`). */
  merge(data: HistogramData): void {
    for (let i = 0; i < data.length && i < BUCKETS; i++) {
      const n = data[i] ?? 0;
      this.counts[i] = (this.counts[i] ?? 0) + n;
      this.total += n;
    }
  }

  /** percentileMs is the latency at quantile `q` (0..1) in milliseconds, the bucket's lower bound; NaN if empty. */
  percentileMs(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return lowestOf(i) / 1000;
    }
    return MAX_MICROS / 1000;
  }

  /** toData returns the counts as a plain array, trimmed after the last non-empty bucket. */
  toData(): HistogramData {
    let last = BUCKETS - 1;
    while (last >= 0 && this.counts[last] === 0) last--;
    return Array.from(this.counts.subarray(0, last + 1));
  }
}
