/** The command table: every `contimg` subcommand, in the order `--help` lists them. */
import type { AnyCommand } from '../command.js';

export const commands: AnyCommand[] = [];
