/** The command table: every `contimg` subcommand, in the order `--help` lists them. */
import type { AnyCommand } from '../command.js';
import { applycalCommand } from './applycal.js';
import { calibrateCommand } from './calibrate.js';
import { convertCommand } from './convert.js';
import { groupsCommand } from './groups.js';
import { imageCommand } from './image.js';
import { inspectCommand } from './inspect.js';
import { simulateCommand } from './simulate.js';
import { migrateCommand } from './migrate.js';
import { publishCommand } from './publish.js';
import { requeueCommand } from './requeue.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { streamCommand } from './stream.js';
import { flagCommand } from './flag.js';
import { sourcesCommand } from './sources.js';
import { mosaicCommand } from './mosaic.js';
import { crossmatchCommand } from './crossmatch.js';
import { pipelineCommand } from './pipeline.js';
import { dbCommand } from './db.js';

export const commands: AnyCommand[] = [simulateCommand, convertCommand, groupsCommand, inspectCommand, streamCommand, statusCommand, serveCommand, requeueCommand, flagCommand, calibrateCommand, applycalCommand, imageCommand, mosaicCommand, sourcesCommand, crossmatchCommand, pipelineCommand, migrateCommand, publishCommand, dbCommand];
