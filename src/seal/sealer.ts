/**
 * Seals finished recordings (E1, E2, E5; invariant 2): writes `<base>_info.txt` with its chain
 * link, `<base>_hash.txt` over the info, audio and metadata files, and
 * `<base>_hash.SHA256withRSA.sig`, then stores the recording row and the new chain head in one
 * transaction. Sealing is serialized: recordings ending in the same millisecond still form one
 * linear chain.
 */
import { createHash } from 'node:crypto';
import { fsyncPath } from '../common/fsync.ts';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { CallsealError, errorMessage } from '../common/errors.ts';
import { retainUntilMs } from '../common/retention.ts';
import { renderInfo, writeDurable, type ChainLink, type FinishedRecording } from '../recording/index.ts';
import type { RecordingRepository } from '../store/index.ts';
import { renderHashFile, sha256File } from './hashfile.ts';
import type { KeyStore } from './keystore.ts';

/** Suffixes of the seal files. */
export const HASH_SUFFIX = '_hash.txt';
export const SIG_SUFFIX = '_hash.SHA256withRSA.sig';
/** `previous-recording` of the first recording of an epoch. */
export const GENESIS = 'genesis';

/** A sealed recording. */
export interface SealedRecording {
  readonly finished: FinishedRecording;
  readonly chain: ChainLink;
  /** Every file of the recording, in its folder. */
  readonly files: readonly string[];
  readonly hashFile: string;
  readonly signatureFile: string;
  /** Base64 signature, as in the signature file. */
  readonly signature: string;
}

/** Options of {@link Sealer}. */
export interface SealerOptions {
  readonly keys: KeyStore;
  readonly repo: RecordingRepository;
  readonly log: Logger;
  readonly now?: () => number;
}

/** The one sealing queue of an installation. */
export class Sealer {
  readonly #o: SealerOptions;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SealerOptions) {
    this.#o = options;
  }

  /** Seals one recording after every recording handed in before it. */
  seal(finished: FinishedRecording): Promise<SealedRecording> {
    const run = this.#queue.then(() => this.#seal(finished));
    this.#queue = run.catch((err: unknown) => {
      this.#o.log.error({ recordingId: finished.facts.id, err: errorMessage(err) }, 'sealing failed');
    });
    return run;
  }

  async #seal(finished: FinishedRecording): Promise<SealedRecording> {
    const { keys, repo } = this.#o;
    const head = repo.currentHead();
    if (head?.spkiSha256 !== keys.spkiSha256 || head.epoch !== keys.epoch) {
      throw new CallsealError('CS_SEAL_FAILED', `chain epoch ${String(head?.epoch)} does not belong to the current key (epoch ${keys.epoch})`);
    }
    const f = finished.facts;
    const sealedAtMs = (this.#o.now ?? Date.now)();
    const chain: ChainLink = {
      epoch: head.epoch,
      sequence: head.seq + 1,
      previousRecording: head.base ?? GENESIS,
      // The first recording of an epoch names the key it is signed with (genesis).
      previousSignature: head.signature ?? `public-key-sha256:${keys.spkiSha256}`,
      sealedAtMs,
      certificateSha256: keys.certificateFingerprint.replace(/:/g, '').toLowerCase(),
      publicKeySha256: keys.spkiSha256,
    };
    const infoPath = join(finished.dir, finished.infoFile);
    await writeDurable(infoPath, renderInfo(f, chain));
    const names = [finished.infoFile, ...finished.files];
    const entries: [string, string][] = [];
    for (const name of names) entries.push([name, await sha256File(join(finished.dir, name))]);
    const hashFile = `${f.baseName}${HASH_SUFFIX}`;
    const hashText = renderHashFile(entries);
    await writeDurable(join(finished.dir, hashFile), hashText);
    const signature = keys.sign(Buffer.from(hashText, 'utf8')).toString('base64');
    const signatureFile = `${f.baseName}${SIG_SUFFIX}`;
    await writeDurable(join(finished.dir, signatureFile), `${signature}\n`);
    await fsyncPath(finished.dir);
    repo.insertSealed({
      id: f.id, baseName: f.baseName, dir: finished.relDir, callId: f.callId, startMs: f.startMs, endMs: f.endMs,
      callerNumber: f.caller.number, callerName: f.caller.name, calleeNumber: f.callee.number, calleeName: f.callee.name,
      direction: f.direction, setting: f.setting, channels: f.channels, codec: f.codec, interrupted: f.interrupted,
      files: [...names, hashFile, signatureFile], hashFileSha256: createHash('sha256').update(hashText).digest('hex'),
      signature, chainEpoch: chain.epoch, chainSeq: chain.sequence, previous: chain.previousRecording, sealedAtMs,
      // F6: the retention runs from the start of the call; the setting's later changes do not move it.
      retention: f.retention ?? 'keep', retainUntilMs: retainUntilMs(f.startMs, f.retention ?? 'keep'),
    });
    return { finished, chain, files: [...names, hashFile, signatureFile], hashFile, signatureFile, signature };
  }
}
