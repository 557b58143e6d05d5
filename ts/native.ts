/**
 * The one place that loads the native core. Everything heavy happens in Rust; this module
 * only finds the compiled addon and rethrows its errors as ContimgError (./error.ts).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as Native from '../native/index.js';
import { asContimgError, ContimgError } from './error.js';
import { projectRoot } from './project-root.js';

export type NativeModule = typeof Native;

const require = createRequire(import.meta.url);

let loaded: NativeModule | undefined;

export function native(): NativeModule {
  if (loaded) return loaded;
  const file = path.join(projectRoot, 'native', `contimg.${process.platform}-${archTag()}.node`);
  if (!existsSync(file)) {
    throw new ContimgError(
      'NATIVE_MISSING',
      `the native core ${file} is not built; run \`npm run build\` first`,
    );
  }
  loaded = require(file) as NativeModule;
  return loaded;
}

function archTag(): string {
  const arch = process.arch === 'x64' ? 'x64' : process.arch;
  return process.platform === 'linux' ? `${arch}-gnu` : arch;
}

/** Calls a native function, rethrowing its failures as ContimgError. */
export async function callNative<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asContimgError(err);
  }
}
