/**
 * The outbox's destinations by id: a storage target takes a recording's files, an SQL log takes
 * one row made from the recording log (G2). Which one an id names is decided here, so the outbox
 * knows neither registry.
 */
import { CallsealError } from '../common/errors.ts';
import type { Destination, Target } from '../archive/index.ts';
import type { RecordingRow } from '../store/index.ts';
import type { LogRow, SqlLog } from './sqllog.ts';

/** The row an SQL log gets for a sealed recording. */
export function logRow(r: RecordingRow): LogRow {
  return {
    basefilename: r.baseName, direction: r.direction, time: r.startMs, callid: r.callId,
    callername: r.callerName, caller: r.callerNumber, callee: r.calleeNumber, setting: r.setting, signature: r.signature, recording_id: r.id,
    end_time: r.endMs, callee_name: r.calleeName, interrupted: r.interrupted ? 1 : 0, chain_epoch: r.chainEpoch, chain_seq: r.chainSeq,
  };
}

/** Where destination ids are looked up. */
export interface DestinationSources {
  readonly targets: { get(id: string): { readonly target: Target; readonly pathTemplate: string } | undefined };
  readonly sqlLogs: { get(id: string): SqlLog | undefined };
  /** The recording log's row of a sealed recording. */
  readonly recording: (recordingId: string) => RecordingRow | undefined;
}

/** Resolves a destination id: a storage target first, else an SQL log, else undefined. */
export function destinationResolver(s: DestinationSources): (id: string) => Destination | undefined {
  return (id) => {
    const t = s.targets.get(id);
    if (t) return { kind: 'files', ...t };
    const log = s.sqlLogs.get(id);
    if (!log) return undefined;
    return {
      kind: 'row',
      insert: async (recordingId: string) => {
        const r = s.recording(recordingId);
        if (!r) throw new CallsealError('CS_ARCHIVE_RECORDING_UNKNOWN', `recording ${recordingId} is unknown`);
        await log.insert(logRow(r));
      },
    };
  };
}
