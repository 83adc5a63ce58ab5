/**
 * multipart/mixed bodies as SRCs send them: closing delimiter present or missing (Content-Length
 * ends the body), any boundary string, LF-only line ends, boundaries inside content.
 */
import { describe, expect, it } from 'vitest';
import { parseMultipart, parseMultipartBody } from './multipart.ts';
import { ParseError } from '../common/errors.ts';

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=label:1\r\n';
const XML = '<?xml version="1.0"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>\r\n';

function body(boundary: string, closing: string, eol = '\r\n'): Buffer {
  const fix = (s: string): string => s.replace(/\r\n/g, eol);
  return Buffer.from(fix(`--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--${boundary}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n${XML}${closing}`));
}

describe('parseMultipartBody', () => {
  it('splits a terminated body without quirks', () => {
    const r = parseMultipartBody(body('b1', '\r\n--b1--\r\n'), 'multipart/mixed;boundary=b1');
    expect(r.parts.map((p) => p.contentType)).toEqual(['application/sdp', 'application/rs-metadata+xml']);
    expect(r.parts[0]?.body.toString()).toBe(SDP);
    expect(r.quirks).toEqual([]);
  });

  // Ribbon/Sonus, SEMS and Cisco CUBE end the body without `--boundary--`: Content-Length ends it.
  it.each(['sonus-content-delim', '2CD2A2E9', 'x', 'a b\'()+_,-./:=?', 'B'.repeat(70)])('accepts a body without its closing delimiter (boundary %s) as a quirk', (boundary) => {
    const quoted = /[ '()+,/:=?]/.test(boundary) ? `"${boundary}"` : boundary;
    for (const tail of ['', '\r\n', '\r\n\r\n']) {
      const r = parseMultipartBody(body(boundary, tail), `multipart/mixed; boundary=${quoted}`);
      expect(r.quirks).toEqual(['unterminated']);
      expect(r.parts).toHaveLength(2);
      expect(r.parts[1]?.body.toString()).toBe(XML + tail);
    }
  });

  it('accepts a body that stops right after a delimiter line', () => {
    const r = parseMultipartBody(body('b1', '\r\n--b1\r\n'), 'multipart/mixed;boundary=b1');
    expect(r.parts).toHaveLength(2);
    expect(r.quirks).toEqual(['unterminated']);
  });

  it('reads LF-only bodies, terminated or not', () => {
    expect(parseMultipartBody(body('lf', '\n--lf--\n', '\n'), 'multipart/mixed;boundary=lf').quirks).toEqual([]);
    const r = parseMultipartBody(body('lf', '\n', '\n'), 'multipart/mixed;boundary=lf');
    expect(r.quirks).toEqual(['unterminated']);
    expect(r.parts[1]?.body.toString()).toBe(XML.replace(/\r\n/g, '\n') + '\n');
  });

  it('takes the boundary only at the start of a line and not as the prefix of a longer one', () => {
    const text = `--b\r\nContent-Type: text/plain\r\n\r\nsee --b here\r\n--bx is not it\r\n--b--\r\n`;
    const parts = parseMultipart(Buffer.from(text), 'multipart/mixed;boundary=b');
    expect(parts.map((p) => p.body.toString())).toEqual(['see --b here\r\n--bx is not it']);
  });

  it('counts a boundary longer than RFC 2046 allows as a quirk', () => {
    const b = 'L'.repeat(100);
    expect(parseMultipartBody(body(b, '\r\n--' + b + '--'), `multipart/mixed;boundary=${b}`).quirks).toEqual(['long-boundary']);
  });

  it('takes the boundary from the first delimiter line when Content-Type names none', () => {
    const r = parseMultipartBody(body('OSS-unique-boundary-42', '\r\n--OSS-unique-boundary-42--\r\n'), 'multipart/mixed');
    expect(r.parts).toHaveLength(2);
    expect(r.quirks).toEqual(['boundary-inferred']);
  });

  it('still refuses bodies it cannot split', () => {
    expect(() => parseMultipartBody(Buffer.from('no delimiter'), 'multipart/mixed;boundary=b')).toThrow(ParseError);
    expect(() => parseMultipartBody(Buffer.from('no delimiter line\r\n'), 'multipart/mixed')).toThrow(ParseError);
    expect(() => parseMultipartBody(Buffer.from('--b\r\nContent-Type: text/plain'), 'multipart/mixed;boundary=b')).toThrow(ParseError);
  });
});
