/**
 * The one place that loads the native core. Everything heavy happens in Rust; this module
 * only finds the compiled addon and gives its errors a stable shape.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Native from '../native/index.js';

export type NativeModule = typeof Native;

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The project root, whether running from `ts/` (vitest) or `dist/` (the built CLI). */
export const projectRoot = path.resolve(here, '..');

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

/** An error with a stable machine-readable code, from Rust or from TypeScript. */
export class ContimgError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ContimgError';
  }
}

/**
 * Errors thrown by the addon carry `code`. Promises settled from native worker threads can
 * only reject with napi's generic status, so the native side prefixes the message with
 * `[CODE] `; it is moved back into `code` here. Anything else is reported as INTERNAL.
 */
export function asContimgError(err: unknown): ContimgError {
  if (err instanceof ContimgError) return err;
  if (err instanceof Error) {
    const prefixed = /^\[([A-Z][A-Z0-9_]*)\] ([\s\S]*)$/.exec(err.message);
    if (prefixed) return new ContimgError(prefixed[1]!, prefixed[2]!);
    const code = (err as { code?: unknown }).code;
    return new ContimgError(typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : 'INTERNAL', err.message);
  }
  return new ContimgError('INTERNAL', String(err));
}

/** Calls a native function, rethrowing its failures as ContimgError. */
export async function callNative<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asContimgError(err);
  }
}
