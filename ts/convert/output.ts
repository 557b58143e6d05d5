/**
 * Where a group's MeasurementSet goes and what happens around its conversion: the one place that
 * decides it for both `contimg convert` and `contimg stream`.
 *
 * - flat (seed 000): `<output-dir>/<group>.ms`, and nothing else.
 * - the pipeline layout (seed 004, ts/layout): the path the `Layout` gives for the group's kind
 *   (`raw/ms/{science,calibrators}/YYYY-MM-DD/<group>.ms` in the usual write mode), the kind
 *   decided from the calibrator list and the group's own header; the MS is built in
 *   `workspace/active/conversion/` when tmpfs and scratch lack room; once it is in place it is
 *   registered (products.ms_index and data_registry) and, in dual-write mode, shown at its legacy
 *   path; a failed job leaves `workspace/failed/YYYY-MM-DD/conversion-<group>_error.log`.
 */
import path from 'node:path';
import type { SubbandFile } from '../groups.js';
import { ContimgError } from '../error.js';
import { inspectUvh5 } from '../cli/commands/inspect.js';
import {
  classifyGroup,
  dualWrite,
  layoutRequested,
  loadCalibrators,
  obsDateOfGroup,
  recordFailure,
  resolveLayout,
  timestampInName,
  utcDateOfMjd,
  utcDateOfMs,
  type Calibrator,
  type Layout,
  type MsKind,
  type UtcDate,
} from '../layout/index.js';
import type { Registries } from '../registry/index.js';
import type { StagingOptions } from './types.js';

// The registries (Kysely over SQLite) and the MS scanner load with the first registration, so that
// commands which never register (every `contimg` start loads this module) do not pay for them.
const registry = () => import('../registry/index.js');

/** JD of MJD 0. */
const JD_AT_MJD_ZERO = 2_400_000.5;
const SECONDS_PER_DAY = 86_400;

/** A group's time range and pointing, from the header of one of its files (before converting). */
export interface GroupSkyFacts {
  /** First and last instants (MJD, UTC): the integration centres ± half a time step. */
  startMjd: number;
  endMjd: number;
  /** Pointing declination of date (the header's `phase_center_dec`), or null when absent. */
  pointingDecDeg: number | null;
}

/** Where a group's MS goes, and (in the layout) why. */
export interface GroupPlacement {
  groupId: string;
  outputMs: string;
  /** The UVH5 files the MS is made from (the originals, for provenance). */
  inputs: string[];
  /** The layout's answers; absent in the flat layout. */
  kind?: MsKind;
  /** The calibrator that passes through the beam (kind 'calibrator'). */
  calibrator?: { name: string; minSeparationDeg: number; closestMjd: number };
  obsDate?: UtcDate;
  sky?: GroupSkyFacts;
  /** One line for the log: the kind and what decided it. */
  reason?: string;
}

/** What `completed` did, for the log and the command's summary. */
export interface Completion {
  /** True when a registration was written now (false: none needed, or already registered). */
  registered: boolean;
  alreadyRegistered?: boolean;
  /** The legacy path linked in dual-write mode. */
  legacyLink?: string | null;
}

export interface FailedJob {
  groupId: string;
  inputs?: readonly { path: string }[];
  placement?: GroupPlacement;
}

export interface GroupOutput {
  readonly mode: 'flat' | 'layout';
  /** The layout, in layout mode. */
  readonly layout: Layout | null;
  /** Directories to create and watch for free space (name → path); `output` receives the MS. */
  readonly dirs: readonly { name: string; path: string }[];
  /** For logs: where the MS go. */
  readonly description: string;
  /** Where a group's MS goes. In the layout this reads the header of one input (it may throw). */
  place(groupId: string, inputs: readonly Pick<SubbandFile, 'path'>[]): GroupPlacement;
  /** The converter's staging options for this output. */
  staging(opts: StagingOptions): StagingOptions;
  /**
   * Once the MS is complete at `p.outputMs` (converted now, or already there): registers it and
   * links its legacy path. An MS that was already there and is registered is left alone, so a
   * re-run group never registers twice.
   */
  completed(p: GroupPlacement, r: { skipped: boolean }): Promise<Completion>;
  /** A failed job: writes its error log (layout) and returns its path, or null (flat). */
  failed(job: FailedJob, error: { code?: string; message: string }, context?: Record<string, unknown>): string | null;
  close(): Promise<void>;
}

/** The flat layout of seed 000. */
export function flatOutput(outputDir: string): GroupOutput {
  const dir = path.resolve(outputDir);
  return {
    mode: 'flat',
    layout: null,
    dirs: [{ name: 'output', path: dir }],
    description: dir,
    place: (groupId, inputs) => ({ groupId, outputMs: path.join(dir, `${groupId}.ms`), inputs: inputs.map((f) => f.path) }),
    staging: (opts) => opts,
    completed: async () => ({ registered: false }),
    failed: () => null,
    close: async () => undefined,
  };
}

/** The group's time range and pointing from the header of its first file. */
export function groupSkyFacts(file: string): GroupSkyFacts {
  const h = inspectUvh5(file, false);
  // The time step, not integration_time: legacy files record the 0.134 s sample time there.
  const halfStepDays = h.integrationSpacingS / 2 / SECONDS_PER_DAY;
  return {
    startMjd: h.timeStartJd - JD_AT_MJD_ZERO - halfStepDays,
    endMjd: h.timeEndJd - JD_AT_MJD_ZERO + halfStepDays,
    pointingDecDeg: h.pointingDecDeg,
  };
}

/** The date directory of a group: its id's date (the layout's rule), else its data's start. */
function obsDateOf(groupId: string, startMjd: number): UtcDate {
  try {
    return obsDateOfGroup(groupId);
  } catch {
    return utcDateOfMjd(startMjd);
  }
}

/**
 * The date to file a failure under when the group's header may not be readable: the group id,
 * else the first timestamped input name, else (nothing says when it was observed) today.
 */
function failureDate(job: FailedJob): UtcDate {
  if (job.placement?.obsDate) return job.placement.obsDate;
  for (const cand of [job.groupId, ...(job.inputs ?? []).map((f) => timestampInName(path.basename(f.path)))]) {
    if (!cand) continue;
    try {
      return obsDateOfGroup(cand);
    } catch {
      // Not a timestamp.
    }
  }
  return utcDateOfMs(Date.now());
}

/** The pipeline layout of seed 004. Registries are opened on the first registration. */
export function layoutOutput(layout: Layout, calibrators: readonly Calibrator[]): GroupOutput {
  let regs: Promise<Registries> | undefined;
  const registries = () => (regs ??= registry().then((m) => m.openRegistries(layout)));
  return {
    mode: 'layout',
    layout,
    dirs: [
      { name: 'output', path: layout.roots.rawMs },
      { name: 'workspace', path: layout.conversionWorkspace() },
    ],
    description: `the pipeline layout (${layout.roots.rawMs}, ${layout.writeMode} write mode; registries in ${layout.stateDir})`,
    place(groupId, inputs) {
      const first = inputs[0];
      if (!first) throw new ContimgError('CONVERT_INVALID_ARGUMENT', `group ${groupId} has no input files`);
      const sky = groupSkyFacts(first.path);
      const obsDate = obsDateOf(groupId, sky.startMjd);
      const base = { groupId, inputs: inputs.map((f) => f.path), obsDate, sky };
      if (sky.pointingDecDeg === null) {
        const outputMs = layout.msPathFor({ groupId, kind: 'science', obsDate });
        return { ...base, outputMs, kind: 'science', reason: `science: ${first.path} records no pointing declination (phase_center_dec), so no calibrator can be recognised` };
      }
      const cls = classifyGroup({ startMjd: sky.startMjd, endMjd: sky.endMjd, pointingDecDeg: sky.pointingDecDeg, calibrators });
      const outputMs = layout.msPathFor({ groupId, kind: cls.kind, obsDate });
      if (cls.kind === 'science') {
        return { ...base, outputMs, kind: 'science', reason: `science: no listed calibrator passes within the beam at declination ${sky.pointingDecDeg.toFixed(2)}°` };
      }
      const c = cls.calibrator;
      return {
        ...base,
        outputMs,
        kind: 'calibrator',
        calibrator: { name: c.name, minSeparationDeg: c.minSeparationDeg, closestMjd: c.closestMjd },
        reason: `calibrator: ${c.name} passes ${c.minSeparationDeg.toFixed(2)}° from the beam centre at MJD ${c.closestMjd.toFixed(5)}`,
      };
    },
    staging: (opts) => ({ ...opts, workspaceDir: layout.conversionWorkspace() }),
    async completed(p, r) {
      const r0 = await registries();
      const { msRegistered, registerMs } = await registry();
      const { readMsFacts } = await import('../migrate/scan.js');
      let registered = false;
      const alreadyRegistered = r.skipped && (await msRegistered(r0, p.outputMs));
      if (!alreadyRegistered) {
        // The MS's own time range (what it holds), the header's pointing (what classified it).
        const facts = readMsFacts(p.outputMs);
        await registerMs(r0, {
          path: p.outputMs,
          groupId: p.groupId,
          startMjd: facts.startMjd,
          endMjd: facts.endMjd,
          pointingDecDeg: p.sky?.pointingDecDeg ?? facts.pointingDecDeg,
          kind: p.kind ?? 'science',
          calibrator: p.calibrator?.name ?? null,
          obsDate: p.obsDate,
          inputs: p.inputs,
        });
        registered = true;
      }
      // After registering: the legacy link is a convenience for legacy readers, the registry row
      // is what the pipeline relies on.
      const legacyLink = dualWrite(layout, p.outputMs);
      return { registered, alreadyRegistered, legacyLink };
    },
    failed(job, error, context) {
      return recordFailure(layout, {
        jobId: `conversion-${job.groupId}`,
        obsDate: failureDate(job),
        error,
        context: {
          ...(job.inputs ? { inputs: job.inputs.map((f) => f.path) } : {}),
          ...(job.placement ? { outputMs: job.placement.outputMs, kind: job.placement.kind } : {}),
          ...context,
        },
      });
    },
    async close() {
      if (regs) await (await regs).close();
    },
  };
}

/** The command-line options that choose the output (see `layoutWriterOptions`). */
export interface OutputArgs {
  'output-dir'?: string;
  layout?: boolean;
  'stage-base'?: string;
  'data-base'?: string;
  calibrators?: string;
}

function explicitLayout(a: OutputArgs): boolean {
  return a.layout === true || !!a['stage-base']?.trim() || !!a['data-base']?.trim();
}

/** For a command's yargs `check`: exactly one destination. */
export function checkOutputArgs(a: OutputArgs, env: NodeJS.ProcessEnv = process.env): void {
  if (a['output-dir'] !== undefined && explicitLayout(a)) {
    throw new Error('--output-dir writes <output-dir>/<group>.ms; it cannot be combined with --layout, --stage-base or --data-base');
  }
  if (a['output-dir'] === undefined && !layoutRequested({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'], env })) {
    throw new Error('give --output-dir, or --layout (or set CONTIMG_STAGE_BASE) to write the pipeline layout');
  }
}

/**
 * The layout the options ask for, or null for the flat output. An explicit `--output-dir` wins
 * over CONTIMG_STAGE_BASE (an option beats the environment, as for every root of the layout), so
 * a one-off conversion on a pipeline host still goes where it is told.
 */
export function layoutFromArgs(a: OutputArgs, env: NodeJS.ProcessEnv = process.env): Layout | null {
  if (a['output-dir'] !== undefined) return null;
  const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'], env });
  if (!layout) throw new ContimgError('CONVERT_INVALID_ARGUMENT', 'give --output-dir, or --layout (or set CONTIMG_STAGE_BASE) to write the pipeline layout');
  return layout;
}

/** The output the options ask for (see `layoutFromArgs`). */
export function outputFromArgs(a: OutputArgs, env: NodeJS.ProcessEnv = process.env): GroupOutput {
  const layout = layoutFromArgs(a, env);
  return layout ? layoutOutput(layout, loadCalibrators(a.calibrators)) : flatOutput(a['output-dir']!);
}
