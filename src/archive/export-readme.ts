/**
 * The README of an export (H7), in German and English: what the archive holds and the exact
 * commands that check it with standard tools (sha256sum or shasum, openssl, bash).
 */
import type { ExportQuery, ExportSummary } from './export.ts';

/** What the README states. */
export interface ExportReadmeFacts {
  readonly query: ExportQuery;
  readonly actor: string;
  readonly nowMs: number;
  readonly summary: ExportSummary;
  /** SHA-256 fingerprint of the certificate that signed the manifest. */
  readonly fingerprint: string;
  /** One recording's path without suffix, for the example command. */
  readonly example: string | undefined;
}

const iso = (ms: number | undefined): string => (ms !== undefined ? new Date(ms).toISOString() : '-');

/** Renders README.txt. */
export function exportReadme(f: ExportReadmeFacts): string {
  const q = f.query;
  const request = `number ${q.number !== undefined && q.number !== '' ? q.number : '-'}, from ${iso(q.fromMs)}, to ${iso(q.toMs)}`;
  const s = f.summary;
  const example = f.example ?? 'recordings/<folder>/<base>';
  const problems = s.problems.length > 0 ? `\nWITHOUT A GOOD COPY / OHNE GUELTIGE KOPIE:\n${s.problems.map((p) => `  ${p}`).join('\n')}\n` : '';
  return `callseal export / callseal-Export
=================================

Request / Anfrage: ${request}
Created / Erstellt: ${iso(f.nowMs)} (${f.actor})
Recordings / Aufnahmen: ${s.recordings}; deleted by retention / nach Ablauf der Aufbewahrungsfrist geloescht: ${s.deletedByRetention}
${problems}
Deutsch
-------
Dieses Archiv enthaelt die versiegelten Aufnahmen (recordings/...), fuer jede Aufnahme die
Hash-Datei (_hash.txt) und ihre Signatur (_hash.SHA256withRSA.sig), die Zertifikate, verify.sh
und manifest.txt: die SHA-256 jeder Datei dieses Archivs, signiert mit dem aktuellen Schluessel
von callseal (manifest.sig). Pruefen, im entpackten Ordner:

  1. Fingerabdruck des Zertifikats mit dem ausgedruckten Zertifikat vergleichen:
       openssl x509 -in callseal-cert.pem -noout -fingerprint -sha256
     erwartet: ${f.fingerprint}
  2. Signatur des Manifests:
       openssl x509 -in callseal-cert.pem -noout -pubkey > pub.pem
       openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.txt
  3. Jede Datei gegen das Manifest:
       sha256sum -c manifest.txt        (macOS: shasum -a 256 -c manifest.txt)
  4. Jede Aufnahme einzeln (Hash-Datei und Signatur):
       bash verify.sh --fingerprint ${f.fingerprint} ${example}
     alle:
       for h in $(find recordings -name '*_hash.txt'); do bash verify.sh "\${h%_hash.txt}" || echo "FEHLER: $h"; done

Geloeschte Aufnahmen sind mit ihrem signierten Loeschnachweis (chain/deletions/...) enthalten.

English
-------
This archive holds the sealed recordings (recordings/...), each with its hash file (_hash.txt)
and signature (_hash.SHA256withRSA.sig), the certificates, verify.sh and manifest.txt: the SHA-256
of every file of this archive, signed with callseal's current key (manifest.sig). To check it, in
the unpacked folder:

  1. Compare the certificate's fingerprint with the printed certificate:
       openssl x509 -in callseal-cert.pem -noout -fingerprint -sha256
     expected: ${f.fingerprint}
  2. The manifest's signature:
       openssl x509 -in callseal-cert.pem -noout -pubkey > pub.pem
       openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.txt
  3. Every file against the manifest:
       sha256sum -c manifest.txt        (macOS: shasum -a 256 -c manifest.txt)
  4. Each recording on its own (hash file and signature):
       bash verify.sh --fingerprint ${f.fingerprint} ${example}
     all of them:
       for h in $(find recordings -name '*_hash.txt'); do bash verify.sh "\${h%_hash.txt}" || echo "FAILED: $h"; done

Recordings deleted by retention are included as their signed deletion records (chain/deletions/...).
A certificate inside this archive proves nothing by itself: only the comparison in step 1 does.
`;
}
