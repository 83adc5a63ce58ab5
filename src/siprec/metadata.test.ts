/**
 * Recording metadata as real SRCs send it (SIPREC-INTEROP.md), and hostile documents.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeXmlReferences, mergeMetadata, numberFromAor, parseMetadata, resolveParties } from './metadata.ts';
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
    // `bob` and `alice` are account names: kept (checked by sipUserName), the AoR as received.
    expect(m.participants.map((p) => [p.number, p.name, p.aor])).toEqual([['bob', 'Bob', 'sip:bob@biloxi.com'], ['alice', 'Alice', 'sip:alice@atlanta.com']]);
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
    ['sips:alice@example.com', 'alice'],
  ])('%s gives %s', (aor, number) => {
    expect(numberFromAor(aor)).toBe(number);
  });
});

/** The metadata XML of a published SRC message (`shared/testdata/siprec-vendors`), as sipp would send it. */
function vendorXml(file: string): string {
  const raw = readFileSync(join(VENDORS, file), 'utf8');
  // sipp strips the indentation of scenario lines; the drachtio files are bodies as they are.
  const text = file.startsWith('miarec__') ? raw.split('\n').map((l) => l.trimStart()).join('\n') : raw;
  const start = text.indexOf('<?xml');
  // The old draft root `recording_metadata` holds a `recording` element of its own: take the last close.
  const end = [...text.slice(start).matchAll(/<\/(?:[\w-]+:)?recording(?:_metadata)?>/g)].pop();
  if (start < 0 || !end) throw new Error(`no metadata in ${file}`);
  return text.slice(start, start + end.index + end[0].length);
}

const VENDORS = join(import.meta.dirname, '../../../shared/testdata/siprec-vendors');

describe('who called (issue: the first participant is not always the caller)', () => {
  it.each([
    // file, SDP labels, caller number, callee number, caller label, callee label, source, direction
    ['drachtio__acme-siprec-offer.txt', ['16777227', '16777228'], '9000', '1002', '16777227', '16777228', 'callingParty extension', undefined],
    ['drachtio__avaya-siprec-offer.txt', ['201835599', '201835600'], '31624895902', '33187164021', '201835599', '201835600', 'callingParty extension', undefined],
    ['drachtio__broadworks-offer-2.txt', ['10', '20'], '9878942259', 'ASBCE', '10', '20', 'document order', undefined],
    ['drachtio__cisco-siprec-offer.txt', ['1', '2'], '7301', '7300', '1', '2', 'document order', undefined],
    ['drachtio__connectel-offer.txt', ['1', '2'], '0771121212', '0760516936', '1', '2', 'document order', undefined],
    ['drachtio__intrado-siprec-invite.txt', ['1'], '4058327108', undefined, '1', undefined, 'role element', undefined],
    ['drachtio__procomm-siprec-offer.txt', ['a_leg', 'b_leg'], '016190200', 'Extension-016190619', 'a_leg', 'b_leg', 'document order', undefined],
    ['drachtio__sonus-siprec-offer.txt', ['1', '2'], '2249888500', '2249888012', '2', '1', 'callData extension (fromhdr)', undefined],
    ['miarec__avaya_sbce_inbound.msg2.txt', ['10', '20'], '13035381001', '7204541001', '10', '20', 'document order', undefined],
    ['miarec__broadworks_pause_resume.msg0.txt', ['1'], '+19015783200', '8638254725', undefined, '1', 'termCall extension (callingPartyNumber)', 'in'],
    ['miarec__cisco_webex_calling_inbound_01.msg0.txt', ['1'], '7711', 'kculs9klre', undefined, '1', 'termCall extension (callingPartyNumber)', 'in'],
    ['miarec__metaswitch_16g_basic_call_hold.msg0.txt', ['1'], '7602922411', '7602922410', '1', '1', 'callingPartyNumber extension', 'in'],
    // Its published SDP part carries a stray second SDP (label 1) that the metadata does not declare.
    ['miarec__oracle_sbc_basic_calls_outbound.msg0.txt', ['16777227', '1'], '1001', '2002', '16777227', undefined, 'callingParty extension', undefined],
  ])('%s', (file, labels, callerNumber, calleeNumber, callerLabel, calleeLabel, source, direction) => {
    // The Oracle scenario names its parties through sipp's CSV injection; substituted as sipp would.
    const xml = vendorXml(file).replace(/\[field0 file="tenant-users.csv"\]/g, '1001').replace(/\[field0 file="callee.csv"\]/g, '2002');
    const m = parseMetadata(xml);
    const p = resolveParties(m, labels);
    expect([p.caller?.number, p.callee?.number, p.callerLabel, p.calleeLabel, p.source, m.direction]).toEqual([callerNumber, calleeNumber, callerLabel, calleeLabel, source, direction]);
  });

  // The held-out set: the same statements with the participants in the other order, another
  // namespace prefix, tabs and line breaks.
  it.each([
    ['drachtio__acme-siprec-offer.txt', ['16777227', '16777228'], '9000', '16777227'],
    ['drachtio__sonus-siprec-offer.txt', ['1', '2'], '2249888500', '2'],
    ['miarec__broadworks_pause_resume.msg0.txt', ['1'], '+19015783200', undefined],
    ['miarec__cisco_webex_calling_inbound_01.msg0.txt', ['1'], '7711', undefined],
    ['miarec__metaswitch_16g_basic_call_hold.msg0.txt', ['1'], '7602922411', '1'],
  ])('%s with participants reversed, another prefix and tabs', (file, labels, callerNumber, callerLabel) => {
    const xml = reverseParticipants(vendorXml(file)).replace(/apkt:/g, 'ora:').replace(/xmlns:apkt/g, 'xmlns:ora').replace(/tns:/g, 'x:').replace(/xmlns:tns/g, 'xmlns:x').replace(/\n */g, '\n\t\t');
    const m = parseMetadata(xml);
    const p = resolveParties(m, labels);
    expect(p.caller?.number).toBe(callerNumber);
    expect(p.callerLabel).toBe(callerLabel);
    expect(p.source).not.toBe('document order');
  });

  it('follows a called flag alone and an origCall extension (outgoing)', () => {
    const m = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1">
      <participant participant_id="a"><nameID aor="sip:+4930111@x"/><extensiondata><v:callingParty xmlns:v="urn:v">false</v:callingParty></extensiondata></participant>
      <participant participant_id="b"><nameID aor="sip:+4930222@x"/></participant></recording>`);
    expect(resolveParties(m, []).caller?.number).toBe('+4930222');
    const o = parseMetadata(`<recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">
      <participant id="u"><aor>sip:2001@bw</aor></participant><participant id="r"><aor>tel:+4940999</aor></participant>
      <extensiondata><bw:callType xmlns:bw="urn:bw"><bw:origCall><bw:callingPartyNumber>sip:+492001@bw</bw:callingPartyNumber><bw:calledPartyNumber>tel:+4940999</bw:calledPartyNumber></bw:origCall></bw:callType></extensiondata>
    </recording_metadata>`);
    expect(o.direction).toBe('out');
    expect(resolveParties(o, []).caller?.number).toBe('2001');
    expect(resolveParties(o, []).callee?.number).toBe('+4940999');
  });

  it('keeps the caller statement across a partial update', () => {
    const first = parseMetadata(vendorXml('drachtio__acme-siprec-offer.txt'));
    const upd = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording"><datamode>partial</datamode>
      <participant id="fSD3PFErSjNTHLDiXCELjw=="><nameID aor="sip:9000@192.168.50.102"><name>Agent 9000</name></nameID></participant></recording>`);
    const p = resolveParties(mergeMetadata(first, upd), ['16777227', '16777228']);
    expect([p.caller?.name, p.source]).toEqual(['Agent 9000', 'callingParty extension']);
  });
});

/** Moves every `<participant>` element (with any prefix) to the reverse order, in place. */
function reverseParticipants(xml: string): string {
  const re = /<((?:[\w-]+:)?participant)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;
  const found = [...xml.matchAll(re)].map((m) => m[0]);
  let i = found.length - 1;
  return xml.replace(re, () => found[i--] ?? '');
}

describe('character references (issue: names kept as M&#252;ller)', () => {
  it('decodes numeric references and the five predefined entities in names and AoRs', () => {
    const m = parseMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1">
      <participant participant_id="a"><nameID aor="sip:m&#252;ller@x.example"><name>M&#252;ller &amp; S&#xF6;hne &lt;Vertrieb&gt; &quot;GmbH&quot; &apos;A&apos; &#x1F4DE;</name></nameID></participant>
      <participant participant_id="b"><nameID aor="sip:1@x"><name>Tab&#9;Line&#10;key: value</name></nameID></participant>
    </recording>`);
    expect(m.participants[0]?.name).toBe('Müller & Söhne <Vertrieb> "GmbH" \'A\' 📞');
    expect(m.participants[0]?.number).toBe('müller');
    // Decoded control characters are stripped like literal ones: no line can be faked.
    expect(m.participants[1]?.name).toBe('Tab Line key: value');
  });

  it('replaces references to code points XML does not allow', () => {
    expect(decodeXmlReferences('a&#0;b&#xD800;c&#1114112;d')).toBe('a\ufffdb\ufffdc\ufffdd');
    expect(decodeXmlReferences('&amp;#252;')).toBe('&#252;');
  });

  it('still refuses DOCTYPE and ENTITY declarations', () => {
    expect(() => parseMetadata('<!DOCTYPE r [<!ENTITY u "&#252;">]><recording><participant>&u;</participant></recording>')).toThrow(ParseError);
  });
});
