/**
 * The contract between whoever schedules conversions (the `convert` command, the streaming
 * worker) and the converter itself. The converter turns one group of subband files into one
 * Measurement Set, choosing where to build it, and moving it into place atomically.
 */
import type { SubbandFile } from '../groups.js';

/** How visibilities are phased in the output MS (DESIGN.md §3). */
export type PhaseMode =
  /** One FIELD at the meridian at the group's mid-time (or an explicit centre); data rotated. */
  | 'meridian'
  /** The old pipeline: one FIELD per integration at the meridian, data not rotated. */
  | 'per-integration';

export interface ConvertOptions {
  phaseMode: PhaseMode;
  /** Explicit phase centre (ICRS, degrees); overrides the meridian centre. */
  phaseCenter?: { raDeg: number; decDeg: number };
  /** 16 SPWs (one per subband) instead of one concatenated SPW. */
  spwPerSubband: boolean;
  /** Convert a group with missing subbands, their channels flagged. */
  allowMissing: boolean;
  /** Add MODEL_DATA and CORRECTED_DATA. */
  imagingColumns: boolean;
  /** Subbands per group (16). */
  expectedSubbands: number;
  /** Cap on native worker threads (default: all cores). */
  threads?: number;
  /** Integrations per streamed time chunk (bounds memory). */
  chunkIntegrations?: number;
  /** Sign convention of the stored uvw: detect, or force one. */
  uvwConvention: 'auto' | 'ant2-ant1' | 'ant1-ant2';
  /**
   * The phase the input data carry: `auto` (default: decided from the file — DSA-110 files by
   * their telescope name or fringe-stopping keywords read as `stored-uvw`, other drift files as
   * `zero`), `stored-uvw` (the stored uvw_array w describes it, true of DSA-110's
   * meridian-fringe-stopped files) or `zero` (pyuvdata's reading of drift data: no phase).
   */
  inputPhase?: 'auto' | 'stored-uvw' | 'zero';
}

/** Where the MS is built before being moved into place (seed 000's staging). */
export interface StagingOptions {
  /** tmpfs mount to try first (default /dev/shm). */
  tmpfsPath: string;
  /**
   * `auto` (default): in place on a local output file system, tmpfs (then scratch) on a network
   * one; `tmpfs`: seed 000's order whatever the file system; `in-place`: never tmpfs or scratch.
   */
  mode?: 'auto' | 'tmpfs' | 'in-place';
  /** Never build in tmpfs (the older spelling of `mode: 'in-place'`). */
  noTmpfs: boolean;
  /** Fast local scratch, used when tmpfs lacks room. */
  scratchDir?: string;
  /** Keep temporary directories (debugging). */
  keepTemp: boolean;
  /**
   * Where to build when neither tmpfs nor scratch has room, instead of a hidden directory beside
   * the output: the pipeline layout's `workspace/active/conversion/`, so that work in flight is
   * visible there and never inside `raw/ms/`.
   */
  workspaceDir?: string;
}

export interface ConvertJob {
  /** The group's name: its earliest timestamp, `YYYY-MM-DDTHH:MM:SS`. */
  groupId: string;
  /** Input files by subband; a single non-DSA file uses subband 0. */
  inputs: SubbandFile[];
  /** Where the finished MS must appear (e.g. `<output>/<group>.ms`). */
  outputMs: string;
  staging: StagingOptions;
  /** Persistent directory for resumable checkpoints (stream `--checkpoint-dir`). */
  checkpointDir?: string;
  /**
   * The streaming queue's fencing token for this claim: the checkpoint and partial MS are then
   * this claim's own, taken over from an earlier claim by copy (ts/convert/resume.ts).
   */
  claimToken?: number;
  /** Replace an existing output; otherwise an existing output is skipped. */
  overwrite: boolean;
  /** Command line recorded in the MS HISTORY. */
  commandLine: string;
}

/** Per-stage wall-clock seconds, the fields `performance_metrics` stores. */
export interface StageTimings {
  loadS: number;
  phaseS: number;
  writeS: number;
  totalS: number;
  /** Finer timings for `--profile` (stage name → seconds). */
  detail: Record<string, number>;
}

export type StagingLocation = 'tmpfs' | 'scratch' | 'workspace' | 'output';

export interface ConvertResult {
  groupId: string;
  outputMs: string;
  /** True when the output already existed and `overwrite` was off. */
  skipped: boolean;
  rows: number;
  bytesRead: number;
  bytesWritten: number;
  timings: StageTimings;
  staging: { location: StagingLocation; path: string; reason: string };
  /** The first row written after resuming from a checkpoint (absent for a fresh run). */
  resumedFromRow?: number;
  warnings: string[];
}

export interface ConvertProgress {
  groupId: string;
  stage: 'read' | 'phase' | 'write' | 'finalize';
  /** Integrations (or rows, for `write`) done and total. */
  done: number;
  total: number;
  bytes: number;
}

export interface ConvertHooks {
  onProgress?: (p: ConvertProgress) => void;
  /** Aborting stops at the next chunk boundary, leaving a checkpoint. */
  signal?: AbortSignal;
  /**
   * Publishing guard (the streaming queue's fence): the converter moves the finished MS into
   * place only inside `fence(publish)`, which runs `publish` while the caller's claim still holds
   * the group and returns false, without running it, when the claim was lost.
   */
  fence?: (publish: () => void | Promise<void>) => Promise<boolean>;
}

export type Converter = (job: ConvertJob, opts: ConvertOptions, hooks?: ConvertHooks) => Promise<ConvertResult>;

export const DEFAULT_CONVERT_OPTIONS: ConvertOptions = {
  phaseMode: 'meridian',
  spwPerSubband: false,
  allowMissing: false,
  imagingColumns: false,
  expectedSubbands: 16,
  uvwConvention: 'auto',
  inputPhase: 'auto',
};
