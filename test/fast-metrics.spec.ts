// sessiond's hot-path metrics (FastCounter, FastHistogram) must read, to Prometheus and to prom-client's
// cluster aggregator, exactly as prom-client's own Counter and Histogram would after the same events.
import { expect } from "chai";
import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "../server/telemetry/fast-metrics.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const observations = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.7, 3, 12];

function both() {
  const fast = new Registry();
  const native = new Registry();
  const fastCounter = new FastCounter("calls_total", "Calls.", ["method", "code"], fast);
  const nativeCounter = new Counter({ name: "calls_total", help: "Calls.", labelNames: ["method", "code"], registers: [native] });
  const fastHistogram = new FastHistogram("call_seconds", "Call time.", ["method"], BUCKETS, fast);
  const nativeHistogram = new Histogram({
    name: "call_seconds",
    help: "Call time.",
    labelNames: ["method"],
    buckets: BUCKETS,
    registers: [native],
  });
  const get = fastHistogram.child({ method: "Get" });
  for (const value of observations) {
    get.observe(value);
    nativeHistogram.observe({ method: "Get" }, value);
  }
  fastHistogram.child({ method: "Set" }); // made, never observed: exported empty
  nativeHistogram.zero({ method: "Set" });
  const ok = fastCounter.child({ method: "Get", code: "OK" });
  for (let i = 0; i < 5; i++) ok.inc();
  fastCounter.child({ method: "Get", code: "NotFound" }).inc(2);
  fastCounter.child({ method: "Set", code: "OK" });
  nativeCounter.inc({ method: "Get", code: "OK" }, 5);
  nativeCounter.inc({ method: "Get", code: "NotFound" }, 2);
  nativeCounter.inc({ method: "Set", code: "OK" }, 0);
  return { fast, native };
}

// normalized puts each sample's labels in name order: Prometheus reads `{a,b}` and `{b,a}` alike.
function normalized(text: string): string {
  return text.replace(
    /\{([^}]*)\}/g,
    (_, labels: string) =>
      `{${labels
        .split(/,(?=\w+=)/)
        .sort()
        .join(",")}}`,
  );
}

describe("sessiond's hot-path metrics", () => {
  it("expose the same text as prom-client's Counter and Histogram after the same events", async () => {
    const { fast, native } = both();
    expect(normalized(await fast.metrics())).to.equal(normalized(await native.metrics()));
  });

  it("sum across workers in prom-client's cluster aggregator as prom-client's own do", async () => {
    const a = both();
    const b = both();
    const fast = AggregatorRegistry.aggregate([await a.fast.getMetricsAsJSON(), await b.fast.getMetricsAsJSON()]);
    const native = AggregatorRegistry.aggregate([await a.native.getMetricsAsJSON(), await b.native.getMetricsAsJSON()]);
    expect(normalized(await fast.metrics())).to.equal(normalized(await native.metrics()));
    expect(await fast.metrics()).to.include('call_seconds_count{method="Get"} 16');
  });

  it("refuses labels that do not match the metric's label names", () => {
    const counter = new FastCounter("x_total", "X.", ["a"], new Registry());
    expect(() => counter.child({ b: "1" } as never)).to.throw(TypeError, /do not match/);
  });
});
