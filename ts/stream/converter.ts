/**
 * THE ONE PLACE where the streaming service gets its real converter.
 *
 * The service and its worker only know the `Converter` contract of ts/convert/types.ts; they take
 * a converter as a parameter, and this module supplies the default: the batch converter that
 * `contimg convert` runs (ts/convert/run.ts). Swap the implementation here, nowhere else.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { convertJob } from '../convert/run.js';
import type { Converter } from '../convert/types.js';
import { native } from '../native.js';
import { ContimgError } from '../error.js';

/** The real converter (the native core, via `contimg convert`'s implementation). */
export const defaultConverter: Converter = (job, opts, hooks) => convertJob(job, opts, hooks);

/** True when the native core is built, so `defaultConverter` can run. */
export function realConverterAvailable(): boolean {
  try {
    native();
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a converter from a module that exports `converter` (a `Converter`): the hidden
 * `--converter-module` option, used by tests and for trying an alternative implementation.
 */
export async function loadConverterModule(spec: string): Promise<Converter> {
  const url = /^[a-z]+:/i.test(spec) ? spec : pathToFileURL(path.resolve(spec)).href;
  let mod: { converter?: unknown };
  try {
    mod = (await import(url)) as { converter?: unknown };
  } catch (err) {
    throw new ContimgError('STREAM_CONVERTER_MODULE', `${spec}: cannot load the converter module: ${(err as Error).message}`);
  }
  if (typeof mod.converter !== 'function') throw new ContimgError('STREAM_CONVERTER_MODULE', `${spec}: the module does not export a \`converter\` function`);
  return mod.converter as Converter;
}
