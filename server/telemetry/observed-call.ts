import { type Metadata, type ServerInterceptingCall, type ServerInterceptingCallInterface, status } from "@grpc/grpc-js";

/** CallListener is what grpc-js hands `start`: the events of a call, toward its handler. */
export type CallListener = Parameters<ServerInterceptingCallInterface["start"]>[0];

// Internal: how early a deadline's cancel may come (timers and Date.now() round milliseconds differently).
const DEADLINE_SLACK_MS = 5;

/** CallStatus is the status a call ends with, as grpc-js hands `sendStatus` (its code may be missing). */
export type CallStatus = Parameters<ServerInterceptingCallInterface["sendStatus"]>[0];

/**
 * PassThroughCall is a grpc-js server call layer that forwards everything to the next layer, at the cost of
 * one method call each: telemetry's interceptors extend it and override only what they observe.
 *
 * Why not grpc-js's own `ServerInterceptingCall`: it is built for responders that may answer later, so it
 * allocates a listener, a `Metadata` and a closure or two per call and per message, whatever they hook;
 * metrics and traces observe synchronously and need none of that. What an override must keep: call the next
 * layer once, synchronously, in the same order (a layer that delays must use `ServerInterceptingCall`).
 * Implementing grpc-js's exported interface makes a method it adds later a compile error here, not a gap.
 */
export class PassThroughCall implements ServerInterceptingCallInterface {
  constructor(protected readonly next: ServerInterceptingCallInterface) {}
  start(listener: CallListener): void {
    this.next.start(listener);
  }
  sendMetadata(metadata: Metadata): void {
    this.next.sendMetadata(metadata);
  }
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js's own signature: a message of the method's type.
  sendMessage(message: any, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }
  sendStatus(s: CallStatus): void {
    this.next.sendStatus(s);
  }
  startRead(): void {
    this.next.startRead();
  }
  getPeer(): string {
    return this.next.getPeer();
  }
  getDeadline(): ReturnType<ServerInterceptingCallInterface["getDeadline"]> {
    return this.next.getDeadline();
  }
  getHost(): string {
    return this.next.getHost();
  }
  getAuthContext(): ReturnType<ServerInterceptingCallInterface["getAuthContext"]> {
    return this.next.getAuthContext();
  }
  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]> {
    return this.next.getConnectionInfo();
  }
  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface["getMetricsRecorder"]> {
    return this.next.getMetricsRecorder();
  }

  /**
   * codeOf is the code a call ended with when its handler sends status `s`: DEADLINE_EXCEEDED once its
   * deadline has passed, whatever the handler says then. grpc-js sends that status itself when the deadline
   * timer fires and ignores the handler's later one, which still passes through the interceptors.
   */
  protected codeOf(s: CallStatus): number {
    const code = s.code ?? status.UNKNOWN;
    return code !== status.DEADLINE_EXCEEDED && this.deadlinePassed() ? status.DEADLINE_EXCEEDED : code;
  }

  /**
   * deadlinePassed tells whether the call's deadline, if it has one, is behind us: the cause of a cancel.
   * grpc-js's deadline timer may fire a millisecond before `Date.now()` reaches the deadline it computed.
   */
  protected deadlinePassed(): boolean {
    const deadline = this.next.getDeadline();
    return deadline !== Infinity && Number(deadline) <= Date.now() + DEADLINE_SLACK_MS;
  }
}

/**
 * asLayer types a PassThroughCall as what grpc-js's `ServerInterceptor` signature returns. The signature
 * names the class, but grpc-js uses only its interface: each interceptor is handed the layer below as a
 * bare `ServerInterceptingCallInterface` (the innermost is not a `ServerInterceptingCall` at all).
 */
export function asLayer(call: PassThroughCall): ServerInterceptingCall {
  return call as unknown as ServerInterceptingCall;
}
