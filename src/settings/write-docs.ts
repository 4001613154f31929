/** `npm run docs:settings`: writes docs/settings.md from the settings table. */
import { writeFileSync } from 'node:fs';
import { settingsMarkdown } from './docs.js';

const target = new URL('../../docs/settings.md', import.meta.url);
writeFileSync(target, settingsMarkdown());
process.stdout.write(`wrote ${target.pathname}\n`);
