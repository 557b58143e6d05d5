/**
 * The CLI as a function: `run(argv) → exit code`. `bin/contimg` calls it with the process
 * arguments; tests call it directly with their own `Io`.
 */
import yargs from 'yargs';
import { asContimgError } from '../error.js';
import { version } from '../version.js';
import type { AnyCommand, Context } from './command.js';
import { processIo, type Io } from './io.js';
import { commandsFor } from './commands/index.js';

/** Exit codes: 0 ok, 1 a job failed, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Collapses a repeated scalar option to its last value; declared arrays stay arrays. */
function lastValueWins(argv: Record<string, unknown>, y: { getOptions(): { array: string[] } }): void {
  const arrays = new Set(y.getOptions().array);
  for (const [k, v] of Object.entries(argv)) {
    if (k !== '_' && Array.isArray(v) && !arrays.has(k)) argv[k] = v[v.length - 1];
  }
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  // Errors from a command's own work, kept apart from yargs' parse and validation failures.
  let runtimeError: unknown;
  const ctx: Context = { io, commandLine: ['contimg', ...argv].join(' ') };
  const parser = yargs(argv)
    .scriptName('contimg')
    // A repeated option means "the last one wins", as in most CLIs. (yargs' own
    // `duplicate-arguments-array: false` would also collapse variadic positionals such as
    // `convert FILE…` to their last value, so scalars are collapsed here instead.)
    // yargs passes itself as the middleware's second argument; its typings omit it.
    .middleware(lastValueWins as unknown as (argv: object) => void, true)
    .usage('$0 <command> [options]\n\nDSA-110 continuum imaging: UVH5 subband groups → Measurement Sets → images.')
    .strict()
    .demandCommand(1, 'Name a command; see `contimg --help`.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(version)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    });
  for (const cmd of (await commandsFor(argv)) as AnyCommand[]) {
    parser.command(cmd.command, cmd.describe, cmd.builder, async (args) => {
      try {
        exitCode = await cmd.run(args, ctx);
      } catch (err) {
        runtimeError = err;
      }
    });
  }
  try {
    let helpOutput = '';
    await parser.parseAsync(argv, {}, (_err, _args, output) => {
      helpOutput = output ?? '';
    });
    if (helpOutput) io.stdout(helpOutput.endsWith('\n') ? helpOutput : helpOutput + '\n');
  } catch (err) {
    // Everything yargs raises (unknown options, failed checks) is a usage error.
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`contimg: ${message}\nRun \`contimg --help\` for usage.\n`);
    return EXIT_USAGE;
  }
  if (runtimeError !== undefined) {
    const e = asContimgError(runtimeError);
    io.stderr(`contimg: error [${e.code}]: ${e.message}\n`);
    return EXIT_FAILED;
  }
  return exitCode;
}
