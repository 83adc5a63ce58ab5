/**
 * Recording metadata as real SRCs send it (SIPREC-INTEROP.md), and hostile documents.
 */
import { describe, expect, it } from 'vitest';
import { mergeMetadata, numberFromAor, parseMetadata, resolveParties } from './metadata.ts';
import { ParseError } from '../common/errors.ts';

const RFC7865 = `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="hVpd7YQgRW2nD22h7q60JQ=="><sipSessionID>ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2</sipSessionID></session>
  <participant participant_id="srfBElmCRp2QB23b7Mpk0w=="><nameID aor="sip:bob@biloxi.com"><name xml:lang="it">Bob</name></nameID></participant>
  <participant participant_id="zSfPoSvdSDCmU3A3TRDxAw=="><nameID aor="sip:alice@atlanta.com"><name xml:lang="it">Alice</name></nameID></participant>
  <stream stream_id="UAAMm5GRQKSCMVvLyl4rFw==" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>96</label></stream>
  <stream stream_id="i1Pz3to5hGk8fuXl+PbwCw==" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>97</label></stream>
  <participantstreamassoc participant_id="srfBElmCRp2QB23b7Mpk0w=="><send>i1Pz3to5hGk8fuXl+PbwCw==</send><recv>UAAMm5GRQKSCMVvLyl4rFw==</recv></participantstreamassoc>
  <participantstreamassoc participant_id="zSfPoSvdSDCmU3A3TRDxAw=="><send>UAAMm5GRQKSCMVvLyl4rFw==</send><recv>i1Pz3to5hGk8fuXl+PbwCw==</recv></participantstreamassoc>
</recording>`;

describe('parseMetadata', () => {
  it('reads participants, streams and associations of RFC 7865', () => {
    const m = parseMetadata(RFC7865);
    expect(m.sessionId).toBe('hVpd7YQgRW2nD22h7q60JQ==');
    // `bob` and `alice` are user names, not telephone numbers: the AoR keeps them, the number stays empty.
    expect(m.participants.map((p) => [p.number, p.name, p.aor])).toEqual([['', 'Bob', 'sip:bob@biloxi.com'], ['', 'Alice', 'sip:alice@atlanta.com']]);
    expect(m.streams.map((s) => s.label)).toEqual(['96', '97']);
    expect(m.participants[0]?.send).toEqual(['i1Pz3to5hGk8fuXl+PbwCw==']);
    const parties = resolveParties(m, ['96', '97']);
    expect(parties.caller?.name).toBe('Bob');
    expect(parties.callerLabel).toBe('97');
    expect(parties.calleeLabel).toBe('96');
  });

  it('reads the old draft: recording_metadata root, id= attributes, send/recv inside participant, prefixes, aor element', () => {
    const m = parseMetadata(`<tns:recording_metadata xmlns:tns="urn:ietf:params:xml:ns:siprec">
      <tns:dataMode>partial</tns:dataMode>
      <tns:participant id="p1" session="s1"><tns:aor>tel:+49-30-123</tns:aor><tns:name></tns:name><tns:send>st1</tns:send></tns:participant>
      <tns:participant id="p2"><tns:nameID><tns:aor>4989555@10.0.0.1:5060</tns:aor></tns:nameID><tns:send>st2</tns:send><tns:role>called</tns:role></tns:participant>
      <tns:stream id="st1" session="s1"><tns:label>a_leg</tns:label></tns:stream>
      <tns:stream id="st2" session="s1"><tns:label>b_leg</tns:label></tns:stream>
    </tns:recording_metadata>`);
    expect(m.dataMode).toBe('partial');
    expect(m.participants.map((p) => p.number)).toEqual(['+4930123', '4989555']);
    const parties = resolveParties(m, ['a_leg', 'b_leg']);
    expect(parties.callee?.number).toBe('4989555');
    expect(parties.calleeLabel).toBe('b_leg');
    expect(parties.callerLabel).toBe('a_leg');
  });

  it('keeps placeholder and empty participants without failing; extension blocks are ignored except a direction', () => {
    const m = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording">
      <participant participant_id="x"><nameID aor="sip:@domain.example"/></participant>
      <participant participant_id="y"><nameID aor="sip:ASBCE@asbce.com"><name/></nameID></participant>
      <extensiondata xmlns:apkt="http://acmepacket.com/siprec/extensiondata"><apkt:callingParty>true</apkt:callingParty><apkt:direction>inbound</apkt:direction></extensiondata>
    </recording>`);
    expect(m.participants).toHaveLength(2);
    expect(m.participants[0]?.number).toBe('');
    expect(m.direction).toBe('in');
  });

  it('reads diversions from vendor extension blocks (original called number, redirecting number)', () => {
    const m = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1">
      <participant participant_id="a"><nameID aor="sip:+4940111@x"/></participant>
      <extensiondata><ribbon:callData xmlns:ribbon="urn:ribbon"><ribbon:originalTo>sip:+4930123450@pbx;user=phone</ribbon:originalTo><ribbon:callId>x</ribbon:callId></ribbon:callData></extensiondata>
      <extensiondata><ac:RedirectingNumber xmlns:ac="urn:ac">tel:+49-30-123459</ac:RedirectingNumber></extensiondata>
    </recording>`);
    expect(m.diversions).toEqual(['+4930123450', '+4930123459']);
    expect(parseMetadata(RFC7865).diversions).toEqual([]);
  });

  it('merges a partial update into the snapshot', () => {
    const base = parseMetadata(RFC7865);
    const upd = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>
      <participant participant_id="zSfPoSvdSDCmU3A3TRDxAw=="><nameID aor="sip:carol@chicago.com"><name>Carol</name></nameID></participant></recording>`);
    const merged = mergeMetadata(base, upd);
    expect(merged.participants.map((p) => p.name)).toEqual(['Bob', 'Carol']);
    expect(merged.streams).toHaveLength(2);
  });

  it.each([
    ['a DOCTYPE with entities (billion laughs)', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><recording>&lol2;</recording>'],
    ['an external entity', '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><recording>&x;</recording>'],
    ['an undeclared entity', '<recording><participant>&x;</participant></recording>'],
    ['malformed XML', '<recording><participant></recording>'],
    ['a document without a recording root', '<html><body/></html>'],
    ['an oversized document', `<recording>${'<participant/>'.repeat(10000)}</recording>`],
  ])('refuses %s', (_what, xml) => {
    expect(() => parseMetadata(xml)).toThrow(ParseError);
  });

  it('strips control characters and bounds values', () => {
    const m = parseMetadata(`<recording><participant participant_id="a"><nameID aor="sip:1@x"><name>Evil&#10;key: value${'x'.repeat(1000)}</name></nameID></participant></recording>`);
    expect(m.participants[0]?.name.length).toBeLessThanOrEqual(256);
  });
});

describe('numberFromAor', () => {
  it.each([
    ['sip:+4930123@host;user=phone', '+4930123'],
    ['tel:+4930123', '+4930123'],
    ['tel:+49-30-123;phone-context=example.com', '+4930123'],
    ['4930123@host:5060', '4930123'],
    ['sip:@domain', ''],
    ['<sip:%2B4930123@host>', '+4930123'],
    ['sips:alice@example.com', ''],
  ])('%s gives %s', (aor, number) => {
    expect(numberFromAor(aor)).toBe(number);
  });
});
