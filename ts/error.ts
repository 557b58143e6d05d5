/**
 * The one error type of contimg: a stable machine-readable code and a message. Rust errors
 * reach JavaScript with their code (see crates/node/src/error.rs); TypeScript raises the same
 * type. Kept apart from the native loader so that modules which never touch the addon
 * (layout, registries, migration) do not depend on it.
 */

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
