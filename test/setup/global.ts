/**
 * Runs once before the suites: the native core and the compiled CLI must exist (`npm test`
 * builds them first), and so must the oracle virtualenv the comparisons run in.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function setup(): void {
  const native = path.join(root, 'native');
  if (!existsSync(native) || !readdirSync(native).some((f) => f.endsWith('.node'))) {
    throw new Error(`the native core is not built (${native}); run \`npm run build\` (npm test does this)`);
  }
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
    throw new Error('the CLI is not compiled (dist/); run `npm run build`');
  }
  if (!existsSync(path.join(root, '.venv', 'bin', 'python'))) {
    throw new Error('the oracle virtualenv is missing; run `bash scripts/oracle-venv.sh` (npm test does this)');
  }
}
