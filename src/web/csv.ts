/**
 * CSV the API hands out, safe to open in a spreadsheet (security issue: formula injection). A cell
 * that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and
 * Google Sheets as a formula (`=HYPERLINK(...)`, DDE), so such a cell is prefixed with `'` (OWASP,
 * "CSV Injection"). Plain numbers (`+4930123456`, `-3`) stay as they are: a spreadsheet reads them
 * as numbers and runs nothing. Cells that already start with `'` before such a character get one
 * more, so {@link fromCsvCell} undoes exactly what {@link csvCell} did and an export imports back
 * unchanged. This module only formats cells; it decides nothing about who may export.
 */
import { stringify } from 'csv-stringify/sync';

const FORMULA = /^'*[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?\d+(?:\.\d+)?$/;
const ESCAPED = /^'+[=+\-@\t\r]/;

/** One cell as exported: prefixed with `'` when a spreadsheet would read it as a formula. */
export function csvCell(value: string): string {
  return FORMULA.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
}

/** One cell as imported: the inverse of {@link csvCell}. */
export function fromCsvCell(value: string): string {
  return ESCAPED.test(value) ? value.slice(1) : value;
}

/** Rows (the first one the header) as CSV text, every cell passed through {@link csvCell}. */
export function toSafeCsv(rows: readonly (readonly string[])[]): string {
  return stringify(rows.map((r) => r.map(csvCell)));
}
