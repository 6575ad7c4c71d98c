// Loaded with tracing.ts only (when an OTLP endpoint is set).
import { type Context, isSpanContextValid, SamplingDecision, SpanKind, trace } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type IdGenerator,
  ParentBasedSampler,
  RandomIdGenerator,
  type Sampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";

// Internal: the sampler a missing or unknown OTEL_TRACES_SAMPLER means, as the specification says.
const DEFAULT_SAMPLER = "parentbased_always_on";

/**
 * samplerFromEnv is the sampler the standard variables name, read as the OpenTelemetry SDK reads them:
 * `OTEL_TRACES_SAMPLER` is `always_on`, `always_off`, `traceidratio`, `parentbased_always_on` (the
 * default), `parentbased_always_off` or `parentbased_traceidratio`, and `OTEL_TRACES_SAMPLER_ARG` is the
 * ratio of the two ratio samplers (0 to 1, default 1). A value it cannot use is reported to `warn` and the
 * default taken instead, as the SDK does. sessiond builds the sampler itself (rather than letting the SDK
 * read the variables) so that it can ask it before any span exists: see createSampling.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim() || DEFAULT_SAMPLER;
  const ratio = (): number => {
    const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    const value = raw ? Number(raw) : NaN;
    if (Number.isFinite(value) && value >= 0 && value <= 1) return value;
    warn(`OTEL_TRACES_SAMPLER_ARG=${raw ?? ""} is not a ratio from 0 to 1: sampling every trace (1)`);
    return 1;
  };
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio());
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      warn(`OTEL_TRACES_SAMPLER=${name} is not supported: using ${DEFAULT_SAMPLER}`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Sampling decides whether a call is recorded before anything is made for it. The tracer provider is given
 * the same sampler and `ids` as its id generator, so that it takes the same decision again for the calls
 * this lets through (samplers decide from the parent and the trace id alone).
 */
export interface Sampling {
  /** ids is the provider's id generator: the trace id of a root span is the one `sampled` drew for it. */
  readonly ids: IdGenerator;
  /**
   * sampled tells whether a SERVER span named `name` under `parent` (the caller's context, maybe empty)
   * would be recorded. When it would be a root span, the trace id drawn to decide is kept for the very
   * next root span the provider starts, which the caller must then start at once.
   */
  sampled(parent: Context, name: string): boolean;
}

/** createSampling wraps `sampler` for decisions taken ahead of the provider (see Sampling). */
export function createSampling(sampler: Sampler): Sampling {
  const random = new RandomIdGenerator();
  let drawn: string | undefined;
  const ids: IdGenerator = {
    generateTraceId() {
      const traceId = drawn ?? random.generateTraceId();
      drawn = undefined;
      return traceId;
    },
    generateSpanId: () => random.generateSpanId(),
  };
  const noAttributes = {};
  return {
    ids,
    sampled(parent, name) {
      const caller = trace.getSpanContext(parent);
      const root = caller === undefined || !isSpanContextValid(caller);
      const traceId = root ? random.generateTraceId() : caller.traceId;
      const { decision } = sampler.shouldSample(parent, traceId, name, SpanKind.SERVER, noAttributes, []);
      if (decision === SamplingDecision.NOT_RECORD) return false;
      if (root) drawn = traceId;
      return true;
    },
  };
}
