/**
 * How long a recording is kept (F6): a period in calendar years and/or days, or `keep` (never
 * deleted by callseal). A recording's retain-until is computed once, when it is sealed, from its
 * setting's retention and its start; changing a setting later does not move it. Pure: no I/O.
 */

/** A retention period, or `keep`. */
export type Retention = 'keep' | { readonly years?: number | undefined; readonly days?: number | undefined };

const DAY_MS = 86_400_000;

/**
 * The end of the retention period that starts at `fromMs`: calendar years added in UTC (a
 * recording of 29 February is kept until 1 March of a year without one), then whole days.
 * Undefined for `keep`.
 */
export function retainUntilMs(fromMs: number, retention: Retention): number | undefined {
  if (retention === 'keep') return undefined;
  const d = new Date(fromMs);
  if (retention.years !== undefined && retention.years > 0) d.setUTCFullYear(d.getUTCFullYear() + retention.years);
  return d.getTime() + (retention.days ?? 0) * DAY_MS;
}

/** The period as text, e.g. `5 years`, `7 years 30 days`, `keep`; also the form stored with a recording. */
export function describeRetention(retention: Retention): string {
  if (retention === 'keep') return 'keep';
  const parts: string[] = [];
  if (retention.years !== undefined && retention.years > 0) parts.push(`${retention.years} year${retention.years === 1 ? '' : 's'}`);
  if (retention.days !== undefined && retention.days > 0) parts.push(`${retention.days} day${retention.days === 1 ? '' : 's'}`);
  return parts.join(' ') || 'keep';
}
