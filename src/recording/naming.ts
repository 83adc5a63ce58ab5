/**
 * File and folder names of recordings (D1, D2, invariant 4 and 6): names begin with a sortable
 * timestamp and carry date and both numbers; every part from the network passes an allowlist.
 */

/** Calendar parts of an instant in a time zone. */
export interface TimeParts {
  readonly Y: string;
  readonly M: string;
  readonly D: string;
  readonly h: string;
  readonly m: string;
  readonly s: string;
  readonly ms: string;
  /** UTC offset as `+01:00`. */
  readonly offset: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      ...(timeZone ? { timeZone } : {}), year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset',
    });
    formatters.set(key, f);
  }
  return f;
}

/** Splits an instant into calendar parts in `timeZone` (default: the machine's). */
export function timeParts(ms: number, timeZone?: string): TimeParts {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const tzName = parts['timeZoneName'] ?? 'GMT';
  const off = /GMT([+-]\d{2}):?(\d{2})?/.exec(tzName);
  const offset = off ? `${off[1] ?? '+00'}:${off[2] ?? '00'}` : '+00:00';
  return {
    Y: parts['year'] ?? '0000', M: parts['month'] ?? '00', D: parts['day'] ?? '00',
    h: parts['hour'] ?? '00', m: parts['minute'] ?? '00', s: parts['second'] ?? '00',
    ms: String(ms % 1000).padStart(3, '0'), offset,
  };
}

/** ISO 8601 with milliseconds and offset, e.g. `2026-11-23T18:46:37.123+01:00` (invariant 6). */
export function isoWithOffset(ms: number, timeZone?: string): string {
  const p = timeParts(ms, timeZone);
  return `${p.Y}-${p.M}-${p.D}T${p.h}:${p.m}:${p.s}.${p.ms}${p.offset}`;
}

/**
 * Makes one path segment safe: only `A-Z a-z 0-9 + . _ -` survive, everything else becomes `_`,
 * runs collapse, no leading dot, at most `max` characters, never empty.
 */
export function safeSegment(value: string, max = 32): string {
  const cleaned = value
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^A-Za-z0-9+._-]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, max)
    .replace(/[._]+$/, '');
  return cleaned === '' ? 'unknown' : cleaned;
}

/** Expands `$Y $M $D $h $m $s` in a folder template; each resulting segment is made safe. */
export function expandTemplate(template: string, parts: TimeParts): string {
  const expanded = template.replace(/\$([YMDhms])/g, (_m, k: 'Y' | 'M' | 'D' | 'h' | 'm' | 's') => parts[k]);
  return expanded
    .split('/')
    .filter((seg) => seg !== '' && seg !== '.' && seg !== '..')
    .map((seg) => safeSegment(seg, 64))
    .join('/');
}

/** `20261123-184637-123_<caller>_<callee>_<id>`: sortable, with date and both numbers (D1). */
export function recordingBaseName(startMs: number, timeZone: string | undefined, caller: string, callee: string, id: string): string {
  const p = timeParts(startMs, timeZone);
  return `${p.Y}${p.M}${p.D}-${p.h}${p.m}${p.s}-${p.ms}_${safeSegment(caller || 'unknown')}_${safeSegment(callee || 'unknown')}_${safeSegment(id, 12)}`;
}
