/**
 * An in-memory SIP network on a fake clock, for unit tests of the transaction core, dialogs and
 * the UAS core: each endpoint is a `SipWire` with an address; what one sends reaches the endpoint
 * at the remote's address after `latencyMs` of fake time, parsed by the real parser, unless a
 * `drop` rule loses it. Every message sent is kept for assertions.
 */
import type { FakeClock } from '../../src/common/fake-clock.ts';
import { parseMessage, type Inbound, type Remote, type SipMessage, type SipWire, type TransportName } from '../../src/sip/index.ts';

/** One message put on the network. */
export interface WireMessage {
  readonly from: Remote;
  readonly to: Remote;
  readonly bytes: Buffer;
  readonly message: SipMessage;
  readonly atMs: number;
}

/** The network: endpoints by address and port, one log of everything sent. */
export class MemoryNetwork {
  readonly clock: FakeClock;
  readonly latencyMs: number;
  readonly log: WireMessage[] = [];
  readonly #endpoints = new Map<string, MemoryWire>();
  /** Loses a message when it returns true (counted in `dropped`). */
  drop: (m: WireMessage) => boolean = () => false;
  dropped = 0;

  constructor(clock: FakeClock, latencyMs = 0) {
    this.clock = clock;
    this.latencyMs = latencyMs;
  }

  /** An endpoint at `address:port` (the same port for every transport). */
  endpoint(address: string, port = 5060): MemoryWire {
    const wire = new MemoryWire(this, address, port);
    this.#endpoints.set(`${address}:${port}`, wire);
    return wire;
  }

  /** Called by an endpoint's `send`. */
  carry(from: Remote, to: Remote, bytes: Buffer): void {
    const message = parseMessage(bytes);
    const m: WireMessage = { from, to, bytes, message, atMs: this.clock.monoMs() };
    this.log.push(m);
    if (this.drop(m)) {
      this.dropped++;
      return;
    }
    const target = this.#endpoints.get(`${to.address}:${to.port}`);
    if (!target) return;
    this.clock.schedule(this.latencyMs, () => { target.receive(bytes, from); });
  }

  /** Messages sent to `address` (optionally only requests of `method` or responses with `status`). */
  to(address: string): WireMessage[] {
    return this.log.filter((m) => m.to.address === address);
  }
}

/** One endpoint of a {@link MemoryNetwork}. */
export class MemoryWire implements SipWire {
  readonly address: string;
  readonly port: number;
  readonly #net: MemoryNetwork;
  #handler: (inbound: Inbound) => void = () => undefined;

  constructor(net: MemoryNetwork, address: string, port: number) {
    this.#net = net;
    this.address = address;
    this.port = port;
  }

  /** This endpoint as the remote its peers send to. */
  remote(transport: TransportName = 'UDP'): Remote {
    return { transport, address: this.address, port: this.port };
  }

  send(remote: Remote, data: Buffer): void {
    this.#net.carry({ transport: remote.transport, address: this.address, port: this.port }, remote, data);
  }

  onInbound(handler: (inbound: Inbound) => void): void {
    this.#handler = handler;
  }

  sentBy(): { readonly host: string; readonly port: number } {
    return { host: this.address, port: this.port };
  }

  /** Delivers bytes as if received from `from` (parse errors included). */
  receive(bytes: Buffer, from: Remote): void {
    let inbound: Inbound;
    try {
      inbound = { ok: true, message: parseMessage(bytes), remote: from };
    } catch (error) {
      inbound = { ok: false, error, raw: bytes, remote: from };
    }
    this.#handler(inbound);
  }

  /** Delivers raw SIP text (lines joined with CRLF) as if received from `from`. */
  inject(lines: readonly string[], from: Remote): void {
    this.receive(Buffer.from(lines.join('\r\n')), from);
  }
}
