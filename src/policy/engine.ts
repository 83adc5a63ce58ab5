/**
 * The policy at run time: compiles the stored policy when its version changes and logs every
 * decision with the version it was made under (A9).
 */
import type { Logger } from '../common/log.ts';
import { compilePolicy, decide, type CallFacts, type CompiledPolicy, type Decision } from './decide.ts';
import type { NumberContext } from './numbers.ts';
import type { ConsentOutcome, PolicyStore } from './policy-store.ts';

/** Decisions against the current stored policy. */
export class PolicyEngine {
  readonly #store: PolicyStore;
  readonly #ctx: NumberContext;
  readonly #log: Logger;
  #compiled: CompiledPolicy | undefined;
  #version = -1;

  constructor(store: PolicyStore, ctx: NumberContext, log: Logger) {
    this.#store = store;
    this.#ctx = ctx;
    this.#log = log;
  }

  /** The compiled policy, recompiled when the stored version moved. */
  current(): { compiled: CompiledPolicy; version: number } {
    const v = this.#store.version();
    if (!this.#compiled || v !== this.#version) {
      const { policy, version } = this.#store.load();
      this.#compiled = compilePolicy(policy, this.#ctx);
      this.#version = version;
    }
    return { compiled: this.#compiled, version: this.#version };
  }

  /** Decides, logs the decision, and returns it. */
  decide(facts: CallFacts, event: string): Decision {
    const { compiled, version } = this.current();
    const d = decide(facts, compiled);
    this.#store.logDecision(facts, d, event, version);
    this.#log.info({ callId: facts.callId, event, record: d.record, code: d.code, setting: d.settingName, direction: d.direction, reason: d.reason }, 'recording decision');
    return d;
  }

  /** C3: logs the consent IVR's outcome of a call decided before (event `consent`). */
  logConsent(facts: CallFacts, d: Decision, consent: ConsentOutcome): void {
    this.#store.logDecision({ ...facts, atMs: consent.atMs }, d, 'consent', this.current().version, consent);
    this.#log.info({ callId: facts.callId, mode: consent.mode, outcome: consent.outcome, key: consent.key }, 'consent IVR outcome');
  }
}
