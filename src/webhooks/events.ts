/**
 * The live recording events that webhooks publish (H8), with stable names, and the JSON body of
 * each. Built from the plain values the Recorder and the sealer emit; no I/O. Bodies carry the
 * parties as signalling resolved them (already validated and bounded) and no secrets.
 */
import type { CallEnded, CallMode, FinishedRecording, LiveRecording } from '../recording/index.ts';

export type { CallEnded, CallMode };

/** Event kinds, stable: receivers match on them. */
export const WEBHOOK_EVENT_KINDS = ['recording.started', 'recording.stopped', 'call.ended', 'recording.sealed'] as const;
/** One event kind. */
export type WebhookEventKind = (typeof WEBHOOK_EVENT_KINDS)[number];
/** The kind of the test delivery the admin can send to an endpoint. */
export const TEST_EVENT_KIND = 'webhook.test';

/** What the sealer reports of a sealed recording. */
export interface SealedEvent {
  readonly finished: FinishedRecording;
  readonly chain: { readonly epoch: number; readonly sequence: number };
}

/** One event as published: `data` is what receivers read. */
export interface WebhookEvent {
  readonly id: string;
  readonly kind: WebhookEventKind | typeof TEST_EVENT_KIND;
  readonly atMs: number;
  readonly data: Readonly<Record<string, unknown>>;
}

function party(p: { readonly number: string; readonly name: string }): { number: string; name: string } {
  return { number: p.number, name: p.name };
}

/** `recording.started`: a recording segment of a call is running. */
export function startedData(l: LiveRecording): Record<string, unknown> {
  return { recordingId: l.id, callId: l.callId, mode: l.mode, startMs: l.startMs, caller: party(l.caller), callee: party(l.callee), setting: l.setting };
}

/**
 * `recording.stopped`: a recording segment ended, by the end of the call or while the call goes
 * on (a DTMF stop, consent withdrawn, the policy); `reason` says which.
 */
export function stoppedData(f: FinishedRecording, mode: CallMode | undefined): Record<string, unknown> {
  const x = f.facts;
  return {
    recordingId: x.id, callId: x.callId, ...(mode ? { mode } : {}), startMs: x.startMs, endMs: x.endMs, reason: x.endReason,
    caller: party(x.caller), callee: party(x.callee), direction: x.direction, setting: x.setting,
  };
}

/** `call.ended`: the call that had a recording is over. */
export function endedData(e: CallEnded): Record<string, unknown> {
  return { callId: e.callId, mode: e.mode, endMs: e.endMs, reason: e.reason };
}

/** `recording.sealed`: hash file, signature and chain link are written; the recording is final. */
export function sealedData(s: SealedEvent, mode: CallMode | undefined): Record<string, unknown> {
  const x = s.finished.facts;
  return {
    recordingId: x.id, callId: x.callId, ...(mode ? { mode } : {}), baseName: x.baseName, startMs: x.startMs, endMs: x.endMs,
    interrupted: x.interrupted, chain: { epoch: s.chain.epoch, sequence: s.chain.sequence },
  };
}

/** The JSON body of a delivery. */
export function eventBody(e: WebhookEvent): string {
  return JSON.stringify({ id: e.id, type: e.kind, createdMs: e.atMs, createdAt: new Date(e.atMs).toISOString(), data: e.data });
}
