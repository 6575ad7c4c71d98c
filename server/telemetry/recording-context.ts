// Loaded with tracing.ts only (when an OTLP endpoint is set).

import type { Context, ContextManager } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";

/**
 * RecordingContextManager is the OpenTelemetry context manager of sessiond: the SDK's own
 * AsyncLocalStorageContextManager, switched on only while a recorded call is in flight.
 *
 * Why: on Node 20, an AsyncLocalStorage that has been entered once installs async hooks for good, and
 * with them V8's promise hooks, which run on every promise of the process (and every callback of every
 * socket and timer): about a fifth of a Get's CPU, paid by every call as soon as one call was traced.
 * Calls that are not recorded never enter a context (see tracing-interceptor.ts), and when the last
 * recorded call ends, the storage is disabled, and its hooks with it, until the next recorded call
 * enters a context again. While disabled, `active()` is the root context: no store command then makes
 * a child span.
 */
export class RecordingContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorageContextManager();
  private recording = 0;

  /** hold counts one recorded call more: the storage stays on until it is released. */
  hold(): void {
    this.recording++;
  }

  /** release counts a recorded call less; after the last, the storage and its hooks are switched off. */
  release(): void {
    if (--this.recording === 0) this.storage.disable();
  }

  active(): Context {
    return this.storage.active();
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    try {
      return this.storage.with(context, fn, thisArg, ...args);
    } finally {
      // The SDK's own uses (its exports run in a context of their own) must not leave the hooks on.
      if (this.recording === 0) this.storage.disable();
    }
  }

  bind<T>(context: Context, target: T): T {
    return this.storage.bind(context, target);
  }

  enable(): this {
    this.storage.enable();
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
