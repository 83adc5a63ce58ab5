import { describe, expect, it } from 'vitest';
import { inlineSchema } from '../config/index.ts';
import { InlineRouter, hopFor, uriUser } from './routing.ts';

function router(extra: Record<string, unknown> = {}): InlineRouter {
  const c = inlineSchema.parse({
    enabled: true,
    pbx: { addresses: ['10.1.0.0/24'], hop: { host: '10.1.0.5' } },
    trunk: {
      addresses: ['192.0.2.10', '192.0.2.11'], hop: { host: '192.0.2.10', port: 5080 },
      routes: [{ prefix: '0049', hop: { host: '192.0.2.11', transport: 'TCP' } }, { prefix: '00491', hop: { host: '192.0.2.12' } }],
    },
    ...extra,
  });
  if (!c.pbx || !c.trunk) throw new TypeError('both sides expected');
  return new InlineRouter({ ...c, pbx: c.pbx, trunk: c.trunk });
}

describe('inline routing', () => {
  it('is off by default and needs both sides when enabled', () => {
    expect(inlineSchema.parse(undefined).enabled).toBe(false);
    expect(inlineSchema.safeParse({ enabled: true, pbx: { addresses: ['10.0.0.1'], hop: { host: '10.0.0.1' } } }).success).toBe(false);
    expect(inlineSchema.safeParse({ enabled: true, pbx: { addresses: ['nope'], hop: { host: 'pbx.example.com' } }, trunk: { addresses: ['10.0.0.2'], hop: { host: '10.0.0.2' } } }).error?.issues.length).toBe(2);
  });

  it('sends a call from the PBX to the trunk (outgoing) and from the trunk to the PBX (incoming)', () => {
    const r = router();
    expect(r.route('10.1.0.5', 'sip:+4930123@trunk.example.net')).toEqual({ from: 'pbx', to: 'trunk', direction: 'out', hop: { transport: 'UDP', address: '192.0.2.10', port: 5080 } });
    expect(r.route('192.0.2.11', 'sip:201@pbx')).toEqual({ from: 'trunk', to: 'pbx', direction: 'in', hop: { transport: 'UDP', address: '10.1.0.5', port: 5060 } });
  });

  it('takes the longest matching Request-URI prefix', () => {
    const r = router();
    expect(r.route('10.1.0.9', 'sip:004930123@x')?.hop).toEqual({ transport: 'TCP', address: '192.0.2.11', port: 5060 });
    expect(r.route('10.1.0.9', 'sip:00491701@x')?.hop.address).toBe('192.0.2.12');
    expect(r.route('10.1.0.9', 'tel:0041123')?.hop.address).toBe('192.0.2.10');
  });

  it('knows no side for any other address (the stack answers 403)', () => {
    const r = router();
    expect(r.route('10.2.0.1', 'sip:1@x')).toBeUndefined();
    expect(r.addresses).toEqual(['10.1.0.0/24', '192.0.2.10', '192.0.2.11']);
  });

  it('makes the trunk side internal when told', () => {
    expect(router({ internal: 'trunk' }).route('192.0.2.10', 'sip:1@x')?.direction).toBe('out');
  });

  it('reads user parts of SIP and tel URIs', () => {
    expect(uriUser('sip:+49%2030@h;user=phone')).toBe('+49 30');
    expect(uriUser('sips:alice@h')).toBe('alice');
    expect(uriUser('tel:+4930;phone-context=x')).toBe('+4930');
    expect(uriUser('sip:host.only')).toBeUndefined();
    expect(hopFor({ addresses: ['10.0.0.1'], hop: { host: '10.0.0.1', port: 5060, transport: 'UDP' }, routes: [], srtp: 'as-offered' }, undefined).address).toBe('10.0.0.1');
  });
});
