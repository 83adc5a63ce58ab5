/**
 * The announcement library over HTTP against a running callseal (C1-C3): a WAV made by sox and an
 * MP3 made by ffmpeg uploaded as raw bodies, listed with hash and duration, the browser's WAV judged
 * by ffprobe, the 20 ms PCMA/PCMU/G.722 payloads decoded back by sox and ffmpeg and compared with
 * sox's own resampling of the upload; hostile uploads refused with a 4xx; roles; settings that name
 * announcements (unknown ids refused) and the 409 on deleting one in use; the OpenAPI description.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { ffprobe, startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { login, type WebClient } from '../helpers/web.ts';

const ADMIN_PASSWORD = 'announce-admin-password-1';
let cs: CallsealProcess;
let dir: string;
let admin: WebClient;
let auditor: WebClient;

interface AnnouncementView { id: string; name: string; format: string; sha256: string; sizeBytes: number; durationMs: number; usedBy: string[] }

/** Uploads raw bytes as a browser does (session cookie, CSRF token). */
async function upload(who: WebClient, name: string | undefined, bytes: Buffer, type = 'audio/wav'): Promise<{ status: number; json: unknown }> {
  const query = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
  const res = await fetch(`http://127.0.0.1:${cs.httpPort}/api/announcements${query}`, {
    method: 'POST', headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, 'content-type': type }, body: new Uint8Array(bytes),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
}

/**
 * An upload announced by its Content-Length but never sent: callseal must refuse it from the
 * header alone. (Sending the whole body races the refusal: callseal answers 413 and closes while
 * the client still writes, and the client may see EPIPE before the answer.)
 */
async function uploadHeadersOnly(who: WebClient, length: number): Promise<{ status: number; json: unknown }> {
  const socket = net.connect(cs.httpPort, '127.0.0.1');
  socket.write([
    'POST /api/announcements?name=x HTTP/1.1', `Host: 127.0.0.1:${String(cs.httpPort)}`, `Cookie: ${who.cookie}`,
    `X-CSRF-Token: ${who.csrf}`, 'Content-Type: audio/wav', `Content-Length: ${String(length)}`, '', ''].join('\r\n'));
  let text = '';
  for await (const chunk of socket) {
    text += (chunk as Buffer).toString('latin1');
    const head = text.indexOf('\r\n\r\n');
    const size = /\r\ncontent-length: (\d+)/i.exec(text);
    if (head >= 0 && size && text.length >= head + 4 + Number(size[1])) break;
  }
  socket.destroy();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, json: body ? JSON.parse(body) as unknown : undefined };
}

/** 16-bit samples of a raw little-endian file. */
function int16(path: string): Int16Array {
  const b = readFileSync(path);
  return Int16Array.from({ length: b.length >> 1 }, (_v, i) => b.readInt16LE(i * 2));
}

/** SNR (dB) of `decoded` against `reference`, at the lag (0-40 samples) that fits best, past the first 50 ms. */
function snrDb(reference: Int16Array, decoded: Int16Array, skip: number): number {
  let best = -Infinity;
  for (let lag = 0; lag <= 40; lag++) {
    let signal = 0;
    let noise = 0;
    for (let i = skip; i < reference.length - skip && i + lag < decoded.length; i++) {
      const r = reference[i] ?? 0;
      const e = r - (decoded[i + lag] ?? 0);
      signal += r * r;
      noise += e * e;
    }
    best = Math.max(best, 10 * Math.log10(signal / Math.max(noise, 1)));
  }
  return best;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callseal-announce-'));
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  admin = await login(cs.httpPort, 'admin', ADMIN_PASSWORD);
  const r = await admin.call('POST', '/api/accounts', { username: 'audrey', displayName: 'Audrey', roles: ['auditor'], password: 'auditor-password-1' });
  expect(r.status, r.text).toBe(201);
  auditor = await login(cs.httpPort, 'audrey', 'auditor-password-1');
}, 120_000);

afterAll(async () => {
  await cs.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('announcement library API', () => {
  let wavId: string;
  let mp3Id: string;
  const wavPath = (): string => join(dir, 'sweep.wav');

  it('uploads a WAV made by sox: 201 with its SHA-256, duration and uploader', async () => {
    execFileSync('sox', ['-D', '-n', '-r', '44100', '-c', '2', '-b', '16', wavPath(), 'synth', '2', 'sine', '300-3000', 'vol', '0.5']);
    const bytes = readFileSync(wavPath());
    const r = await upload(admin, 'Welcome (DE)', bytes);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const a = r.json as AnnouncementView & { uploadedBy: string };
    expect(a).toMatchObject({ name: 'Welcome (DE)', format: 'wav', sizeBytes: bytes.length, durationMs: 2000, usedBy: [] });
    expect(a.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(a.uploadedBy).toBe('admin');
    wavId = a.id;
  });

  it('uploads an MP3 made by ffmpeg; the browser\'s WAV is 16 kHz mono PCM of the same length (ffprobe)', async () => {
    const mp3 = join(dir, 'notice.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=800:duration=1.5:sample_rate=44100', '-c:a', 'libmp3lame', '-b:a', '96k', mp3]);
    const r = await upload(admin, 'Notice', readFileSync(mp3), 'audio/mpeg');
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const a = r.json as AnnouncementView;
    expect(a.format).toBe('mp3');
    expect(a.durationMs).toBeGreaterThanOrEqual(1450);
    expect(a.durationMs).toBeLessThanOrEqual(1550);
    mp3Id = a.id;
    const audio = await auditor.call('GET', `/api/announcements/${mp3Id}/audio`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toContain('audio/wav');
    const file = join(dir, 'notice-16k.wav');
    writeFileSync(file, audio.bytes);
    const probe = ffprobe(file);
    expect(probe).toMatchObject({ codec: 'pcm_s16le', channels: 1, sampleRate: 16000 });
    expect(probe.durationSec).toBeCloseTo(a.durationMs / 1000, 2);
  });

  it('lists both, oldest first, for admins and auditors', async () => {
    for (const who of [admin, auditor]) {
      const r = await who.call('GET', '/api/announcements');
      expect(r.status).toBe(200);
      expect((r.json as AnnouncementView[]).map((a) => a.id)).toEqual([wavId, mp3Id]);
    }
  });

  it('gives 20 ms payloads that sox (G.711) and ffmpeg (G.722) decode back to sox\'s own resampling of the upload', async () => {
    const ref8k = join(dir, 'ref8k.raw');
    const ref16k = join(dir, 'ref16k.raw');
    execFileSync('sox', ['-D', wavPath(), '-t', 'raw', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed', ref8k, 'remix', '-']);
    execFileSync('sox', ['-D', wavPath(), '-t', 'raw', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed', ref16k, 'remix', '-']);
    for (const [codec, encoding] of [['PCMA', 'a-law'], ['PCMU', 'u-law']] as const) {
      const r = await auditor.call('GET', `/api/announcements/${wavId}/payloads/${codec}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-frame-count')).toBe('100');
      expect(r.headers.get('x-frame-bytes')).toBe('160');
      const coded = join(dir, `${codec}.raw`);
      writeFileSync(coded, r.bytes);
      const decoded = join(dir, `${codec}-decoded.raw`);
      execFileSync('sox', ['-t', 'raw', '-r', '8000', '-c', '1', '-e', encoding, '-b', '8', coded, '-t', 'raw', '-e', 'signed', '-b', '16', decoded]);
      const snr = snrDb(int16(ref8k), int16(decoded), 400);
      // G.711 keeps about 38 dB on a speech-level signal; the two resamplers differ a little more.
      expect(snr, `${codec}: ${snr.toFixed(1)} dB`).toBeGreaterThan(25);
    }
    const g722 = await auditor.call('GET', `/api/announcements/${wavId}/payloads/G722`);
    expect(g722.headers.get('x-frame-count')).toBe('100');
    const coded = join(dir, 'g722.raw');
    writeFileSync(coded, g722.bytes);
    const decoded = join(dir, 'g722-decoded.raw');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'g722', '-i', coded, '-f', 's16le', '-acodec', 'pcm_s16le', decoded]);
    const snr = snrDb(int16(ref16k), int16(decoded), 800);
    expect(snr, `G722: ${snr.toFixed(1)} dB`).toBeGreaterThan(15);
    expect((await auditor.call('GET', `/api/announcements/${wavId}/payloads/G729`)).status).toBe(400);
  });

  it('refuses hostile uploads with a clear 4xx and keeps running', async () => {
    const good = readFileSync(wavPath());
    const cases: [string, Promise<{ status: number; json: unknown }>, number][] = [
      ['random bytes', upload(admin, 'x', Buffer.from('MZ\u0090\u0000 this is an executable, not audio')), 415],
      ['WAV cut inside its header', upload(admin, 'x', good.subarray(0, 30)), 400],
      ['WAV with 0 Hz', upload(admin, 'x', (() => { const b = Buffer.from(good); b.writeUInt32LE(0, good.indexOf('fmt ') + 12); return b; })()), 400],
      ['MP3 frame sync with bad headers', upload(admin, 'x', Buffer.concat(Array.from({ length: 200 }, () => Buffer.from([0xff, 0xfb, 0xf0, 0x00]))), 'audio/mpeg'), 400],
      ['empty body', upload(admin, 'x', Buffer.alloc(0)), 415],
      ['no name', upload(admin, undefined, good), 400],
      ['a name with a line break', upload(admin, 'a\nb', good), 400],
      ['an unsupported content type', upload(admin, 'x', good, 'image/png'), 415],
      ['above the size limit', uploadHeadersOnly(admin, 21 * 1024 * 1024 + good.length), 413],
    ];
    for (const [what, p, status] of cases) {
      const r = await p;
      expect(r.status, `${what}: ${JSON.stringify(r.json)}`).toBe(status);
      expect(JSON.stringify(r.json), what).toMatch(/error/);
    }
    expect((await admin.call('GET', '/api/announcements')).json).toHaveLength(2);
    expect(cs.child.exitCode).toBeNull();
  });

  it('lets an auditor read but not upload or delete', async () => {
    expect((await upload(auditor, 'x', readFileSync(wavPath()))).status).toBe(403);
    expect((await auditor.call('DELETE', `/api/announcements/${wavId}`)).status).toBe(403);
  });

  it('assigns announcements and consent to a setting, refuses unknown ids, and refuses to delete one in use', async () => {
    const setting = { ...(await admin.call('GET', '/api/settings/record-all')).json as Record<string, unknown> };
    // The explanation is computed for display; the setting schema does not take it back.
    delete setting['explanation'];
    const bad = await admin.call('PUT', '/api/settings/record-all', { ...setting, announcementIncoming: 'no-such-id' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('announcementIncoming');
    const badKey = await admin.call('PUT', '/api/settings/record-all', { ...setting, consent: { mode: 'opt-out', key: '12' } });
    expect(badKey.status).toBe(400);
    const ok = await admin.call('PUT', '/api/settings/record-all', {
      ...setting, announcementIncoming: wavId, announcementOutgoing: null, consent: { mode: 'opt-out', key: '#', timeoutMs: 5000, confirmNotRecorded: mp3Id },
    });
    expect(ok.status, ok.text).toBe(200);
    expect((await admin.call('GET', `/api/announcements/${wavId}`)).json).toMatchObject({ usedBy: ['record-all'] });
    const inUse = await admin.call('DELETE', `/api/announcements/${mp3Id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.json).toMatchObject({ code: 'CS_ANNOUNCE_IN_USE' });
    expect(JSON.stringify(inUse.json)).toContain('record-all');
    // Free it, then it goes, with its files.
    expect((await admin.call('PUT', '/api/settings/record-all', { ...setting, announcementIncoming: wavId, consent: { mode: 'opt-out', key: '#' } })).status).toBe(200);
    expect((await admin.call('DELETE', `/api/announcements/${mp3Id}`)).status).toBe(204);
    expect((await admin.call('DELETE', `/api/announcements/${mp3Id}`)).status).toBe(404);
    expect((await admin.call('GET', `/api/announcements/${mp3Id}/audio`)).status).toBe(404);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await admin.call('GET', '/api/openapi.json')).json as { paths: Record<string, unknown> };
    for (const p of ['/api/announcements', '/api/announcements/{id}', '/api/announcements/{id}/audio', '/api/announcements/{id}/payloads/{codec}']) expect(doc.paths, p).toHaveProperty([p]);
  });
});
