/**
 * Spellings of one URL path that a server, a proxy or a router may read as the same path: letters
 * percent-encoded (lower- and upper-case hex), `%2F` for `/`, doubled slashes, dot segments (plain
 * and encoded), a trailing slash, a backslash, a `;` suffix, and upper case. The security tests send
 * every route of the OpenAPI description under each of them; none may reach the route's data
 * without the route's own access check.
 */

/** The percent-encoding of one character, with upper- or lower-case hex digits. */
function pct(c: string, upperHex: boolean): string {
  const hex = (c.codePointAt(0) ?? 0).toString(16).padStart(2, '0');
  return `%${upperHex ? hex.toUpperCase() : hex.toLowerCase()}`;
}

/** Every spelling of `path` (an absolute path without query), the path itself excluded. */
export function pathVariants(path: string): string[] {
  const segs = path.split('/').slice(1);
  const glue = (s: readonly string[], sep = '/'): string => `/${s.join(sep)}`;
  const out = new Set<string>();
  segs.forEach((seg, i) => {
    const put = (replacement: string): void => {
      const s = [...segs];
      s[i] = replacement;
      out.add(glue(s));
    };
    const letters = Array.from(seg, (c, pos) => ({ c, pos })).filter(({ c }) => /[a-z]/i.test(c));
    const first = letters[0];
    const last = letters.at(-1);
    if (first) for (const upperHex of [false, true]) put(seg.slice(0, first.pos) + pct(first.c, upperHex) + seg.slice(first.pos + 1));
    if (last && last !== first) put(seg.slice(0, last.pos) + pct(last.c, false) + seg.slice(last.pos + 1));
    put(seg.replace(/[a-z]/gi, (c) => pct(c, true)));
    put(seg.toUpperCase());
    put(seg.charAt(0).toUpperCase() + seg.slice(1));
    // Dot segments and doubled slashes in front of this segment.
    const before = (insert: string): void => {
      out.add(glue(segs.slice(0, i)).replace(/\/$/, '') + insert + glue(segs.slice(i)));
    };
    before('/.');
    before('/x/..');
    before('/');
    // The encoded forms in front of the first two segments (where the `/api` prefix is decided).
    if (i < 2) for (const insert of ['/%2e', '/%2E', '/x/%2e%2e', '/x%2F..']) before(insert);
  });
  // One `%2F` (or `%2f`, or a backslash) in place of each slash but the first, then all of them.
  for (let i = 1; i < segs.length; i++) {
    for (const sep of i === 1 ? ['%2F', '%2f', '\\', '%5C'] : ['%2F']) out.add(glue(segs.slice(0, i)) + sep + segs.slice(i).join('/'));
  }
  if (segs.length > 1) out.add(glue(segs, '%2F'));
  out.add(`${path}/`);
  out.add(`${path}//`);
  out.add(`${path}/.`);
  out.add(`${path};x`);
  out.add(`${path}%20`);
  out.add(`//${path.slice(1)}`);
  out.add(`/.${path}`);
  out.add(path.toUpperCase());
  out.delete(path);
  return [...out];
}
