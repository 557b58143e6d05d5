/**
 * `contimg pipeline`, the whole night unattended: 12 consecutive 5-minute groups (48 antennas,
 * gains and RFI on), the first a 3C286 transit, arriving in the input directory one after
 * another while the pipeline runs. It must end with a published mosaic and catalogue that
 * recover the simulated sky; and a pipeline SIGKILLed at random moments and restarted must
 * reach exactly the same registered products.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, cleanupTmpDirs, cliJson, oracle, seededRandom, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--groups', '12', '--antennas', '48', '--channels', '4', '--integrations', '24', '--calibrator', '3C286', '--sources', '8', '--rfi', '--seed', '7'];
let sim: string;
let truth: string;
let calibrators: string;

beforeAll(async () => {
  const dir = tmpDir();
  sim = path.join(dir, 'sim');
  const s = await cliJson('simulate', '--output-dir', sim, ...SIM);
  truth = s.groups[0].truth;
  // The simulated sky holds one catalogue calibrator; a full catalogue would send the solve to
  // calibrators that are not in it.
  calibrators = path.join(dir, 'calibrators.csv');
  writeFileSync(calibrators, 'name,ra_deg,dec_deg,flux_jy,spectral_index\n3C286,202.784533,30.509155,15,-0.560\n');
}, 120_000);

function bases(root: string) {
  return { stage: path.join(root, 'stage'), data: path.join(root, 'data') };
}

function pipelineArgs(input: string, b: { stage: string; data: string }, extra: string[] = []): string[] {
  return ['pipeline', '--input-dir', input, '--stage-base', b.stage, '--data-base', b.data, '--image-size', '1024', '--image-cell-arcsec', '6', '--calibrators', calibrators, '--reference', truth, '--convert-arg=--no-tmpfs', ...extra];
}

/** Starts the pipeline in its own process group, so that a kill takes its jobs too (a power cut). */
function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }>; jobsDone: (n: number) => Promise<void> } {
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters: { n: number; resolve: () => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    // The pipeline logs "<stage>: <job> done (… s)" as each job finishes.
    const finished = (stderr.match(/ done \(/g) ?? []).length;
    for (const w of waiters.splice(0)) (finished >= w.n ? w.resolve : () => waiters.push(w))();
  });
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  const jobsDone = (n: number) => new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { child, done, jobsDone };
}

function products(dataBase: string): { data_type: string; name: string; status: string }[] {
  const db = new Database(path.join(dataBase, 'state', 'data_registry.sqlite3'), { readonly: true });
  try {
    return db.prepare('SELECT data_type, name, status FROM data_registry ORDER BY data_type, name').all() as { data_type: string; name: string; status: string }[];
  } finally {
    db.close();
  }
}

const published = (dataBase: string, sub: string) => {
  const dir = path.join(dataBase, 'products', sub, '2025-10-02');
  return existsSync(dir) ? readdirSync(dir) : [];
};

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

let reference: { data_type: string; name: string; status: string }[];

describe('contimg pipeline', () => {
  it('turns groups arriving one by one into a published mosaic and catalogue that recover the sky', async () => {
    const root = tmpDir();
    const input = path.join(root, 'incoming');
    mkdirSync(input);
    const b = bases(root);
    const p = start(pipelineArgs(input, b, ['--poll-s', '1', '--settle-s', '1']));
    // The groups arrive one at a time, each file written under a hidden name and renamed.
    const files = readdirSync(sim).filter((f) => f.endsWith('.hdf5')).sort();
    for (let g = 0; g < 12; g++) {
      for (const f of files.slice(g * 16, g * 16 + 16)) {
        copyFileSync(path.join(sim, f), path.join(input, `.${f}`));
        renameSync(path.join(input, `.${f}`), path.join(input, f));
      }
      await new Promise((r) => setTimeout(r, 1500));
    }
    // The first group of 10 MS completes; its mosaic passes QA and is published, with its catalogue.
    await until(() => published(b.data, 'mosaics').some((f) => /_pbweighted\.fits$/.test(f)), 400_000);
    p.child.kill('SIGTERM');
    const exit = await p.done;
    expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
    const mosaic = published(b.data, 'mosaics').find((f) => /_pbweighted\.fits$/.test(f))!;
    const catalog = published(b.data, 'catalogs').find((f) => /^mosaic_.*\.sources\.csv$/.test(f))!;
    expect(mosaic).toBeDefined();
    const dir = (sub: string) => path.join(b.data, 'products', sub, '2025-10-02');
    const score = await oracle('catalog_vs_truth.py', path.join(dir('catalogs'), catalog), truth, '--snr', '10', '--intrinsic', '--footprint', path.join(dir('mosaics'), mosaic), '--rms', String(await medianRms(path.join(dir('catalogs'), catalog))));
    console.log(`published ${catalog}: ${JSON.stringify(score)}`);
    expect(score.bright).toBeGreaterThanOrEqual(20);
    expect(score.completeness, `missed ${score.missed}`).toBeGreaterThanOrEqual(0.9);
    expect(score.offset_beams_rms * score.beam_arcsec).toBeLessThanOrEqual(1);
    expect(Math.abs(score.flux_ratio_median - 1)).toBeLessThan(0.05);

    // The morning: a last pass with --once groups the tail and finishes everything.
    const last = start(pipelineArgs(input, b, ['--once']));
    const lastExit = await last.done;
    expect(lastExit.code, lastExit.stderr.slice(-2000)).toBe(0);
    reference = products(b.data);
    const types = new Set(reference.map((r) => r.data_type));
    for (const t of ['raw_ms', 'calibration_table', 'calibrated_ms', 'image', 'mosaic', 'catalog', 'metadata']) expect(types.has(t), t).toBe(true);
    expect(reference.filter((r) => r.data_type === 'mosaic' && r.name.endsWith('_pbweighted.fits') && r.status === 'published').length).toBe(2);
  }, 900_000);

  it('killed at random moments and restarted, reaches the same registered products', async () => {
    expect(reference).toBeDefined();
    const root = tmpDir();
    const b = bases(root);
    const random = seededRandom(13);
    let kills = 0;
    for (let attempt = 0; attempt < 12; attempt++) {
      const p = start(pipelineArgs(sim, b, ['--once']));
      if (kills < 4) {
        // A seeded moment measured in work, not in seconds, so that the kill lands on a busy
        // machine as on an idle one: after the k-th job of this restart finishes (k = 1…5),
        // then up to 2 s into the next. Four restarts finish at most 20 of the night's ~45 jobs.
        const k = 1 + Math.floor(random() * 5);
        const delayMs = random() * 2000;
        const killed = await Promise.race([p.done.then(() => false), p.jobsDone(k).then(() => new Promise<boolean>((r) => setTimeout(() => r(true), delayMs)))]);
        if (killed) {
          process.kill(-p.child.pid!, 'SIGKILL');
          await p.done;
          kills++;
          continue;
        }
      }
      const exit = await p.done;
      expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
      break;
    }
    expect(kills).toBe(4);
    expect(products(b.data)).toEqual(reference);
    // No half-written product anywhere.
    const leftovers = findPartials(b.stage).concat(findPartials(b.data));
    expect(leftovers).toEqual([]);
  }, 900_000);
});

describe('contimg pipeline without calibration', () => {
  it('runs with stages 4 and 5 disabled: raw MS imaged, mosaicked, catalogued and published; status shows every stage', async () => {
    const root = tmpDir();
    const input = path.join(root, 'in');
    await cliJson('simulate', '--output-dir', input, '--groups', '3', '--antennas', '48', '--channels', '4', '--integrations', '6', '--sources', '10', '--no-gains', '--seed', '5');
    const b = bases(root);
    const args = ['pipeline', '--input-dir', input, '--stage-base', b.stage, '--data-base', b.data, '--once', '--disable-flag', '--disable-calibrate', '--disable-applycal', '--group-size', '3', '--group-overlap', '1', '--image-size', '1024', '--image-cell-arcsec', '6', '--convert-arg=--no-tmpfs', '--json'];
    const r = start(args);
    const exit = await r.done;
    expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
    const types = products(b.data);
    expect(types.filter((t) => t.data_type === 'calibrated_ms' || t.data_type === 'calibration_table')).toEqual([]);
    expect(types.filter((t) => t.data_type === 'image').length).toBe(3);
    expect(published(b.data, 'mosaics')).toContain('mosaic_2025-10-02T00:00:00_pbweighted.fits');
    expect(published(b.data, 'catalogs')).toContain('mosaic_2025-10-02T00:00:00_pbweighted.sources.csv');
    const st = await cliJson('status', '--stage-base', b.stage, '--data-base', b.data);
    const count = Object.fromEntries(st.stages.map((x: { stage: string; count: number }) => [x.stage, x.count]));
    expect(count).toMatchObject({ ingest: 48, convert: 3, groups: 1, calibrate: 0, applycal: 0, image: 3, mosaic: 1, sources: 1 });
    expect(st.failures).toEqual([]);
  }, 300_000);
});

async function medianRms(csv: string): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  const col = lines[0]!.split(',').indexOf('local_rms_jy');
  const v = lines.slice(1).map((l) => Number(l.split(',')[col])).sort((a, c) => a - c);
  return v[Math.floor(v.length / 2)]!;
}

function findPartials(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (/partial|\.tmp|incomplete/.test(e.name)) out.push(p);
      if (e.isDirectory() && !e.name.endsWith('.ms') && !/cal$/.test(e.name)) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
