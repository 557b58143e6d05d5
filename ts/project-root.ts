/** Where contimg's own files (native/, data/) live. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, whether running from `ts/` (vitest) or `dist/` (the built CLI). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
