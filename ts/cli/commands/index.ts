/**
 * The command table: every `contimg` subcommand, in the order `--help` lists them.
 *
 * Each command's module (and with it its runner: the registries, Kysely and both database
 * drivers for `pipeline`, Fastify for `serve`, …) loads only when that command runs. Loading
 * all of them cost ~0.4 s on every invocation, a tenth of a full-group `convert`.
 */
import type { AnyCommand } from '../command.js';

export interface CommandEntry {
  /** The first word of the command, as typed. */
  name: string;
  load: () => Promise<AnyCommand>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'simulate', load: async () => (await import('./simulate.js')).simulateCommand },
  { name: 'convert', load: async () => (await import('./convert.js')).convertCommand },
  { name: 'groups', load: async () => (await import('./groups.js')).groupsCommand },
  { name: 'inspect', load: async () => (await import('./inspect.js')).inspectCommand },
  { name: 'stream', load: async () => (await import('./stream.js')).streamCommand },
  { name: 'status', load: async () => (await import('./status.js')).statusCommand },
  { name: 'serve', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'requeue', load: async () => (await import('./requeue.js')).requeueCommand },
  { name: 'flag', load: async () => (await import('./flag.js')).flagCommand },
  { name: 'calibrate', load: async () => (await import('./calibrate.js')).calibrateCommand },
  { name: 'applycal', load: async () => (await import('./applycal.js')).applycalCommand },
  { name: 'image', load: async () => (await import('./image.js')).imageCommand },
  { name: 'mosaic', load: async () => (await import('./mosaic.js')).mosaicCommand },
  { name: 'sources', load: async () => (await import('./sources.js')).sourcesCommand },
  { name: 'crossmatch', load: async () => (await import('./crossmatch.js')).crossmatchCommand },
  { name: 'pipeline', load: async () => (await import('./pipeline.js')).pipelineCommand },
  { name: 'migrate', load: async () => (await import('./migrate.js')).migrateCommand },
  { name: 'publish', load: async () => (await import('./publish.js')).publishCommand },
  { name: 'db', load: async () => (await import('./db.js')).dbCommand },
];

/** Word of the command line a command is named by: the first one (`contimg convert …`). */
export function commandsFor(argv: readonly string[]): Promise<AnyCommand[]> {
  if (argv.length === 1 && argv[0] === '--version') return Promise.resolve([]);
  const named = COMMANDS.find((c) => c.name === argv[0]);
  // Anything else (no command, a misspelt one, options first, --help) needs the whole table,
  // for the listing, "did you mean" and strict checking.
  return named ? named.load().then((c) => [c]) : Promise.all(COMMANDS.map((c) => c.load()));
}
