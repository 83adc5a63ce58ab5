/**
 * Writes docs/errors.md from the error catalogue (src/common/errors.ts): `npm run docs:errors`.
 */
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/common/errors.ts';

let out = '# Error codes\n\nEvery error callseal raises on purpose carries one of these stable codes (`src/common/errors.ts`).\n' +
  'Codes are never reused. SIP errors are mapped to responses only in `sip/` and `siprec/`, HTTP statuses only in `web/`.\n\n| code | meaning |\n|---|---|\n';
for (const [code, meaning] of Object.entries(ERROR_CODES)) out += `| \`${code}\` | ${meaning} |\n`;
writeFileSync(new URL('../docs/errors.md', import.meta.url), out);
