/** The command table: every `contimg` subcommand, in the order `--help` lists them. */
import type { AnyCommand } from '../command.js';
import { convertCommand } from './convert.js';
import { inspectCommand } from './inspect.js';
import { simulateCommand } from './simulate.js';

export const commands: AnyCommand[] = [simulateCommand, convertCommand, inspectCommand];
