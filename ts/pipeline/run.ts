/**
 * `contimg pipeline`: stages 1–9 run as data arrive, the way the observatory runs every night.
 *
 * Each round looks at the registries and the input directory, works out every job whose inputs
 * are registered and whose product is not, and runs them stage by stage, each `contimg` command
 * in its own child process (job.ts). Nothing else is remembered between rounds: a pipeline
 * killed at any instant and started again sees the same registries and does only what is left.
 * A failed job leaves `workspace/failed/YYYY-MM-DD/<job>_error.log` and is not retried in this
 * run; the rest of the night goes on.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { formGroups, parseSubbandName, type SubbandFile } from '../groups.js';
import { imagePrefix, DEFAULT_IMAGE_OPTIONS, type ImageOptions } from '../image/run.js';
import { obsDateOfGroup, recordFailure, type Layout, type UtcDate } from '../layout/index.js';
import { mosaicOutputs } from '../mosaic/run.js';
import { calTablesValidAt, openRegistries, productRegistered, registerIngest, type Registries } from '../registry/index.js';
import { catalogPaths, DEFAULT_SOURCES_OPTIONS } from '../sources/run.js';
import { crossmatchPaths } from '../crossmatch/run.js';
import { runJob, type JobOutcome } from './job.js';
import { STAGES, type Stage, type StageSwitches } from './stages.js';
import * as state from './state.js';
import { validateMosaic } from './validate.js';

export interface PipelineOptions {
  inputDir: string;
  layout: Layout;
  stages: StageSwitches;
  /** Process what is there and exit; otherwise watch for more. */
  once: boolean;
  pollS: number;
  /** A file joins only once unchanged for this long (a writer may still be at it). */
  settleS: number;
  expectedSubbands: number;
  groupSize: number;
  groupOverlap: number;
  image: Pick<ImageOptions, 'size' | 'cellArcsec'>;
  /** Extra arguments for `contimg convert` (tests: --no-tmpfs, …). */
  convertArgs: string[];
  calibrators?: string;
  /** Reference catalogue for QA (`contimg crossmatch --ref`), when given. */
  reference?: string;
  log: (line: string) => void;
  /** Stop after the current job (SIGTERM). */
  stopping?: () => boolean;
}

export interface StageReport {
  ran: number;
  failed: number;
  /** Work whose inputs are not there yet (an MS with no valid caltables, a group not imaged). */
  waiting: number;
}

export interface PipelineReport {
  rounds: number;
  stages: Record<Stage | 'ingest', StageReport>;
  failures: { job: string; code: string; message: string; log: string }[];
}

interface Job {
  id: string;
  stage: Stage;
  obsDate: UtcDate;
  /** Commands run in order; the job fails at the first that fails. */
  steps: string[][];
}

const base = (o: PipelineOptions) => ['--stage-base', o.layout.roots.stageBase, '--data-base', o.layout.roots.dataBase];

export async function runPipeline(o: PipelineOptions): Promise<PipelineReport> {
  const report: PipelineReport = {
    rounds: 0,
    stages: Object.fromEntries(['ingest', ...STAGES].map((s) => [s, { ran: 0, failed: 0, waiting: 0 }])) as PipelineReport['stages'],
    failures: [],
  };
  const failed = new Set<string>();
  const completed = new Set<string>();
  const memo = { groupedMsCount: -1 };
  for (;;) {
    report.rounds++;
    const worked = await round(o, report, failed, completed, memo);
    if (o.stopping?.()) break;
    if (!worked) {
      if (o.once) break;
      await new Promise((r) => setTimeout(r, o.pollS * 1000));
      if (o.stopping?.()) break;
    }
  }
  return report;
}

/** One pass over every stage; true when any job ran. */
async function round(o: PipelineOptions, report: PipelineReport, failed: Set<string>, completed: Set<string>, memo: { groupedMsCount: number }): Promise<boolean> {
  let worked = false;
  const waitingNow: Partial<Record<Stage, number>> = {};
  const regs = await openRegistries(o.layout);
  try {
    const ingested = await ingest(o, regs);
    report.stages.ingest.ran += ingested;
    worked ||= ingested > 0;
    for (const stage of STAGES) {
      // Validation closes stage 8 whether or not QA itself runs, and publishing reads its result.
      if (stage === 'publish') worked = (await validate(o, regs, report, failed)) || worked;
      if (!o.stages[stage]) continue;
      const { jobs, waiting } = await PLANNERS[stage](o, regs, memo);
      waitingNow[stage] = waiting;
      for (const job of jobs) {
        if (failed.has(job.id) || completed.has(job.id)) continue;
        if (o.stopping?.()) return worked;
        worked = true;
        report.stages[stage].ran++;
        const outcome = await runSteps(job);
        if (outcome.ok) {
          // A job that succeeded without registering what the planner looks for (a group the
          // converter named otherwise) must not run again and again: once per run. Publishing
          // runs whenever something waits for it.
          if (stage !== 'publish') completed.add(job.id);
          o.log(`${stage}: ${job.id} done (${outcome.seconds.toFixed(1)} s)`);
        } else {
          failed.add(job.id);
          report.stages[stage].failed++;
          const log = recordFailure(o.layout, {
            jobId: job.id,
            obsDate: job.obsDate,
            error: { code: outcome.code, message: outcome.message ?? 'failed' },
            context: { stage, commands: job.steps.map((s) => `contimg ${s.join(' ')}`), exitCode: outcome.exitCode, signal: outcome.signal },
          });
          report.failures.push({ job: job.id, code: outcome.code ?? 'PIPELINE_JOB_FAILED', message: outcome.message ?? '', log });
          o.log(`${stage}: ${job.id} FAILED [${outcome.code}] ${outcome.message} (log: ${log})`);
        }
      }
    }
  } finally {
    await regs.close();
  }
  for (const s of STAGES) report.stages[s].waiting = waitingNow[s] ?? 0;
  return worked;
}

async function runSteps(job: Job): Promise<JobOutcome> {
  let last: JobOutcome | undefined;
  for (const argv of job.steps) {
    last = await runJob(argv);
    if (!last.ok) return last;
  }
  return last!;
}

// ---- stage 1: ingest -------------------------------------------------------------------------

/** Registers the subband files that settled in the input directory; returns how many were new. */
async function ingest(o: PipelineOptions, regs: Registries): Promise<number> {
  const files: SubbandFile[] = [];
  const now = Date.now();
  for (const name of listDir(o.inputDir)) {
    const parsed = parseSubbandName(name);
    if (!parsed.ok) continue;
    const p = path.join(o.inputDir, name);
    if (!o.once && now - statSync(p).mtimeMs < o.settleS * 1000) continue;
    files.push({ ...parsed.name, path: p });
  }
  const known = new Set((await regs.ingest.selectFrom('ingest_files').select('path').execute()).map((r) => r.path));
  let added = 0;
  for (const g of formGroups(files).groups) {
    for (const f of g.files.values()) {
      if (known.has(f.path)) continue;
      await registerIngest(regs, { path: f.path, groupId: g.id, subband: f.subband });
      added++;
    }
  }
  if (added) o.log(`ingest: ${added} subband files registered`);
  return added;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

// ---- stages 2–9: planners --------------------------------------------------------------------

type Planner = (o: PipelineOptions, regs: Registries, memo: { groupedMsCount: number }) => Promise<{ jobs: Job[]; waiting: number }>;

const PLANNERS: Record<Stage, Planner> = {
  async convert(o, regs) {
    const rows = await regs.ingest.selectFrom('ingest_files').select(['path', 'group_id', 'subband']).orderBy('group_id').execute();
    const converted = new Set((await state.msRows(regs)).map((m) => m.group_id));
    const byGroup = new Map<string, string[]>();
    for (const r of rows) byGroup.set(r.group_id, [...(byGroup.get(r.group_id) ?? []), r.path]);
    const jobs: Job[] = [];
    let waiting = 0;
    for (const [gid, files] of byGroup) {
      if (converted.has(gid)) continue;
      if (files.length < o.expectedSubbands) {
        waiting++;
        continue;
      }
      const extra = o.calibrators ? ['--calibrators', o.calibrators] : [];
      jobs.push({ id: `convert-${gid}`, stage: 'convert', obsDate: obsDateOfGroup(gid), steps: [['convert', ...files, '--expected-subbands', String(o.expectedSubbands), ...extra, ...o.convertArgs, ...base(o)]] });
    }
    return { jobs, waiting };
  },

  async groups(o, regs, memo) {
    const ms = await state.msRows(regs);
    if (ms.length === 0 || ms.length === memo.groupedMsCount) return { jobs: [], waiting: 0 };
    memo.groupedMsCount = ms.length;
    const flush = o.once ? ['--flush'] : [];
    const extra = o.calibrators ? ['--calibrators', o.calibrators] : [];
    const date = ms.at(-1)!.obs_date as UtcDate;
    return { jobs: [{ id: `groups-${ms.at(-1)!.group_id}`, stage: 'groups', obsDate: date, steps: [['groups', '--size', String(o.groupSize), '--overlap', String(o.groupOverlap), ...flush, ...extra, ...base(o)]] }], waiting: 0 };
  },

  async flag() {
    // Flagging runs as the first step of the calibrate and applycal jobs (below), on the MS
    // those stages are about to use, so that it is never done for an MS nobody reads.
    return { jobs: [], waiting: 0 };
  },

  async calibrate(o, regs) {
    const ms = new Map((await state.msRows(regs)).map((m) => [m.path, m]));
    const jobs: Job[] = [];
    for (const g of bestTransits(await state.groupRows(regs))) {
      const m = ms.get(g.transit_ms!);
      if (!m) continue;
      if ((await state.calTablesForGroup(regs, m.group_id)) > 0) continue;
      const extra = o.calibrators ? ['--calibrators', o.calibrators] : [];
      jobs.push({ id: `calibrate-${m.group_id}`, stage: 'calibrate', obsDate: m.obs_date as UtcDate, steps: [...flagStep(o, m.path), ['calibrate', m.path, ...extra, ...base(o)]] });
    }
    return { jobs, waiting: 0 };
  },

  async applycal(o, regs) {
    const jobs: Job[] = [];
    let waiting = 0;
    for (const m of await state.msRows(regs)) {
      const out = o.layout.calibratedMsPath({ groupId: m.group_id, kind: m.kind });
      const st = await state.productState(regs, out);
      if (st === 'done') continue;
      if ((await calTablesValidAt(regs, m.mid_mjd)).length === 0) {
        waiting++;
        continue;
      }
      jobs.push({ id: `applycal-${m.group_id}`, stage: 'applycal', obsDate: m.obs_date as UtcDate, steps: [...flagStep(o, m.path), ['applycal', m.path, ...(st === 'redo' ? ['--overwrite'] : []), ...base(o)]] });
    }
    return { jobs, waiting };
  },

  async image(o, regs) {
    const jobs: Job[] = [];
    let waiting = 0;
    for (const m of await state.msRows(regs)) {
      const src = await imageSource(o, regs, m);
      if (!src) {
        waiting++;
        continue;
      }
      const image = imageOf(o, src);
      const st = await state.productState(regs, image);
      if (st === 'done') continue;
      const cell = o.image.cellArcsec === undefined ? [] : ['--cell-arcsec', String(o.image.cellArcsec)];
      jobs.push({ id: `image-${m.group_id}`, stage: 'image', obsDate: m.obs_date as UtcDate, steps: [['image', src, '--pbcor', '--size', String(o.image.size), ...cell, ...(st === 'redo' ? ['--overwrite'] : []), ...base(o)]] });
    }
    return { jobs, waiting };
  },

  async mosaic(o, regs) {
    const jobs: Job[] = [];
    let waiting = 0;
    const ms = new Map((await state.msRows(regs)).map((m) => [m.path, m]));
    for (const g of await state.groupRows(regs)) {
      const out = mosaicOutputs(g.group_id, { layout: o.layout }).mosaic;
      if (await state.registeredByName(regs, 'mosaic', path.basename(out))) continue;
      const images: string[] = [];
      for (const p of g.members) {
        const m = ms.get(p);
        const src = m && (await imageSource(o, regs, m));
        const image = src && imageOf(o, src);
        if (image && (await productRegistered(regs, image))) images.push(image);
      }
      if (images.length < g.members.length) {
        waiting++;
        continue;
      }
      const redo = (await state.productState(regs, out)) === 'redo' ? ['--overwrite'] : [];
      jobs.push({ id: `mosaic-${g.group_id}`, stage: 'mosaic', obsDate: g.obs_date as UtcDate, steps: [['mosaic', ...images, '--group-id', g.group_id, ...redo, ...base(o)]] });
    }
    return { jobs, waiting };
  },

  async sources(o, regs) {
    const jobs: Job[] = [];
    const rows = await regs.data.selectFrom('data_registry').select(['path', 'name', 'obs_date']).where('data_type', '=', 'mosaic').execute();
    for (const r of rows.filter((r) => /^mosaic_.*_pbweighted\.fits$/.test(r.name))) {
      const csv = catalogPaths(r.path, DEFAULT_SOURCES_OPTIONS, { layout: o.layout }).csv;
      // By name: once published, the catalogue lives in the data tree.
      if (await state.registeredByName(regs, 'catalog', path.basename(csv))) continue;
      const st = await state.productState(regs, csv);
      jobs.push({ id: `sources-${r.name.replace(/\.fits$/, '')}`, stage: 'sources', obsDate: r.obs_date as UtcDate, steps: [['sources', r.path, '--pb', 'none', ...(st === 'redo' ? ['--overwrite'] : []), ...base(o)]] });
    }
    return { jobs, waiting: 0 };
  },

  async qa(o, regs) {
    if (!o.reference) return { jobs: [], waiting: 0 };
    const jobs: Job[] = [];
    const catalogs = await regs.data.selectFrom('data_registry').select(['path', 'name', 'obs_date']).where('data_type', '=', 'catalog').execute();
    for (const c of catalogs.filter((c) => /^mosaic_.*\.sources\.csv$/.test(c.name))) {
      const qa = crossmatchPaths(c.path, o.reference, { layout: o.layout }).qa;
      if (await state.registeredByName(regs, 'metadata', path.basename(qa))) continue;
      const mosaic = await state.registeredByName(regs, 'mosaic', c.name.replace(/\.sources\.csv$/, '.fits'));
      if (!mosaic) continue;
      const redo = (await state.productState(regs, qa)) === 'redo' ? ['--overwrite'] : [];
      // A mosaic is primary-beam corrected: against a simulation's truth its sources compare
      // with the intrinsic flux, not the flux one pointing's beam lets through.
      const truthFlux = o.reference.endsWith('.json') ? ['--ref-flux', 'flux_jy'] : [];
      jobs.push({
        id: `qa-${c.name.replace(/\.sources\.csv$/, '')}`,
        stage: 'qa',
        obsDate: c.obs_date as UtcDate,
        steps: [['crossmatch', c.path, '--ref', o.reference, '--image', mosaic.path, ...truthFlux, ...redo, ...base(o)]],
      });
    }
    return { jobs, waiting: 0 };
  },

  async publish(o, regs) {
    const n = await state.awaitingPublish(regs, o.layout);
    if (n === 0) return { jobs: [], waiting: 0 };
    const today = new Date().toISOString().slice(0, 10) as UtcDate;
    // One id for the run: a publish that fails is logged and not retried until the pipeline
    // restarts (a fresh id each round would retry it forever under --once).
    return { jobs: [{ id: 'publish', stage: 'publish', obsDate: today, steps: [['publish', '--type', 'mosaic', 'catalog', 'metadata', ...base(o)]] }], waiting: 0 };
  },
};

/**
 * One solve per calibrator passage. Overlapping groups each report the passage they see: the
 * group that holds the transit, and its neighbour whose edge catches the calibrator far out in
 * the beam. Solving the latter would register tables from a source at a few per cent of the
 * beam, which applycal would then prefer for the MS near it; only the best-ranked sighting
 * (beam response × flux) within an hour of another of the same calibrator is solved.
 */
export function bestTransits(groups: state.GroupRow[]): state.GroupRow[] {
  const sightings = groups.filter((g) => g.calibrator && g.transit_ms && g.transit_mjd !== null).sort((a, b) => (b.calibrator_rank ?? 0) - (a.calibrator_rank ?? 0));
  const kept: state.GroupRow[] = [];
  for (const g of sightings) {
    const same = kept.some((k) => k.calibrator === g.calibrator && Math.abs(k.transit_mjd! - g.transit_mjd!) < 1 / 24);
    if (!same && !kept.some((k) => k.transit_ms === g.transit_ms)) kept.push(g);
  }
  return kept;
}

function flagStep(o: PipelineOptions, ms: string): string[][] {
  // `contimg flag` records its settings in the MS and does nothing on a second call.
  return o.stages.flag ? [['flag', ms]] : [];
}

/** The MS a row is imaged from: its calibrated version when stage 5 runs (null until it exists). */
async function imageSource(o: PipelineOptions, regs: Registries, m: state.MsRow): Promise<string | null> {
  if (!o.stages.applycal) return m.path;
  const cal = o.layout.calibratedMsPath({ groupId: m.group_id, kind: m.kind });
  return (await productRegistered(regs, cal)) ? cal : null;
}

function imageOf(o: PipelineOptions, ms: string): string {
  return `${imagePrefix(ms, { ...DEFAULT_IMAGE_OPTIONS, ...o.image }, { layout: o.layout })}.image.fits`;
}

/**
 * Stage 8's verdict: a mosaic whose catalogue is registered — and, with a reference catalogue,
 * whose QA passed — moves to products/ (validate.ts) for publishing. A failed QA leaves the
 * mosaic staged and a failure log naming the checks that failed.
 */
async function validate(o: PipelineOptions, regs: Registries, report: PipelineReport, failed: Set<string>): Promise<boolean> {
  let moved = false;
  for (const m of await state.stagedMosaics(regs, o.layout)) {
    const csv = catalogPaths(m.path, DEFAULT_SOURCES_OPTIONS, { layout: o.layout }).csv;
    if (o.stages.sources && !(await state.registeredByName(regs, 'catalog', path.basename(csv)))) continue;
    if (o.stages.qa && o.reference) {
      const qaName = path.basename(crossmatchPaths(csv, o.reference, { layout: o.layout }).qa);
      const qa = await state.registeredByName(regs, 'metadata', qaName);
      if (!qa) continue;
      const verdict = JSON.parse(readFileSync(qa.path, 'utf8')) as { passed: boolean; failed_checks: string[] };
      const job = `qa-${m.name.replace(/\.fits$/, '')}`;
      if (!verdict.passed) {
        if (!failed.has(job)) {
          failed.add(job);
          report.stages.qa.failed++;
          const message = `QA failed (${verdict.failed_checks.join(', ')}): see ${qa.path}; the mosaic stays in ${path.dirname(m.path)}`;
          // Its catalogue and QA products sit in products/ already: marked failed, publish
          // leaves them there.
          const stem = m.name.replace(/\.fits$/, '');
          await regs.data
            .updateTable('data_registry')
            .set({ status: 'failed', error: `QA_FAILED: ${verdict.failed_checks.join(', ')}`, updated_at: new Date().toISOString() })
            .where('status', '=', 'staged')
            .where('data_type', 'in', ['catalog', 'metadata'])
            .where((eb) => eb.or([eb('name', 'like', `${stem}.sources.%`), eb('name', 'like', `${stem}.xmatch%`)]))
            .execute();
          const log = recordFailure(o.layout, { jobId: job, obsDate: m.obs_date as UtcDate, error: { code: 'QA_FAILED', message } });
          report.failures.push({ job, code: 'QA_FAILED', message, log });
          o.log(`qa: ${m.name} FAILED [QA_FAILED] ${message}`);
        }
        continue;
      }
    }
    const to = await validateMosaic(o.layout, regs, m);
    o.log(`qa: ${m.name} validated → ${to}`);
    moved = true;
  }
  return moved;
}
