/**
 * `_info.txt` values must not hide text on screen (docs/security.md). Unicode's default-ignorable
 * code points are not displayed by renderers, so two different caller names can look the same;
 * besides the ones already escaped, these stay raw: combining grapheme joiner U+034F, Hangul
 * fillers U+115F, U+1160, U+3164, U+FFA0, Khmer vowels inherent U+17B4, U+17B5, Mongolian free
 * variation selectors U+180B-U+180D, U+180F and variation selectors U+FE00-U+FE0F.
 */
import { describe, expect, it } from 'vitest';
import { escapeValue, parseInfo } from '../../src/recording/info.ts';

const INVISIBLE = ['\u034f', '\u115f', '\u1160', '\u17b4', '\u17b5', '\u180b', '\u180c', '\u180d', '\u180f', '\u3164', '\ufe00', '\ufe0f', '\uffa0'];

describe('_info.txt escapes default-ignorable characters', () => {
  for (const c of INVISIBLE) {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    it(`U+${hex.toUpperCase()} is written as \\u${hex} and read back exactly`, () => {
      const value = `Ali${c}ce`;
      const escaped = escapeValue(value);
      expect(escaped).toBe(`Ali\\u${hex}ce`);
      expect(parseInfo(`caller-name: ${escaped}\n`).get('caller-name')).toEqual([value]);
    });
  }
});
