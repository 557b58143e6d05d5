/**
 * `contimg groups` (stage 3) on real MS: simulated groups (one made with --calibrator 3C286)
 * converted into the layout, grouped 4 by 4 with an overlap of 1, with a gap that starts a new
 * sequence. The transit found must be the simulator's; reruns change nothing.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayout } from '../../ts/layout/index.js';
import { openRegistries } from '../../ts/registry/index.js';
import { formMsGroups, type MsRecord } from '../../ts/group-formation/form.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { runChild } from '../migrate/fixtures.js';

afterAll(cleanupTmpDirs);

const T_INT_S = 12.884901888;
const SIM = ['--antennas', '6', '--channels', '4', '--subbands', '2', '--integrations', '4', '--seed', '3'] as const;
const CONVERT = ['--expected-subbands', '2', '--no-tmpfs'] as const;
let stage: string;
let data: string;
let truth: any;
let firstBatch: any;
let pristine: string;
const base = () => ['--stage-base', stage, '--data-base', data];

beforeAll(async () => {
  const root = tmpDir();
  [stage, data] = [path.join(root, 'stage'), path.join(root, 'data')];
  const uv = path.join(root, 'uv');
  // Sequence A: 12 MS, 3C286 transiting in the middle of the first.
  firstBatch = await cliJson('simulate', '--output-dir', uv, ...SIM, '--groups', '12', '--calibrator', '3C286', '--start', '2025-10-02T12:00:00');
  truth = JSON.parse(readFileSync(firstBatch.groups[0].truth, 'utf8'));
  // Sequence B: 5 MS, 10 minutes after A ends (a gap of many MS durations).
  const endA = firstBatch.calibrator.transitMjd - (2 * T_INT_S) / 86400 + (12 * 4 * T_INT_S) / 86400;
  const startB = new Date(Math.round((endA - 40587) * 86400 + 600) * 1000).toISOString().slice(0, 19);
  await cliJson('simulate', '--output-dir', uv, ...SIM, '--groups', '5', '--dec', String(truth.pointing.dec_deg), '--start', startB);
  const c = await cliJson('convert', '--input-dir', uv, ...CONVERT, '--layout', ...base());
  expect(c.converted).toBe(17);
  // The products registry before any grouping, for the crash test to start from.
  pristine = path.join(root, 'pristine');
  mkdirSync(pristine);
  for (const n of readdirSync(path.join(data, 'state'))) if (n.startsWith('products.sqlite3')) copyFileSync(path.join(data, 'state', n), path.join(pristine, n));
}, 120_000);

describe('contimg groups', () => {
  it('--dry-run shows the groups and writes nothing', async () => {
    const r = await cliJson('groups', ...base(), '--size', '4', '--overlap', '1', '--dry-run', '--json');
    expect(r.groups.map((g: any) => [g.file_outcome, g.registry])).toEqual(Array(5).fill(['planned', 'planned']));
    expect(existsSync(path.join(stage, 'raw', 'groups'))).toBe(false);
  });

  it('forms groups of consecutive registered MS, writes and registers them, and finds the simulated transit', async () => {
    const r = await cliJson('groups', ...base(), '--size', '4', '--overlap', '1', '--json');
    expect(r.nMs).toBe(17);
    expect(r.sequences).toBe(2);
    expect(r.msDurationS).toBeCloseTo(4 * T_INT_S, 3);
    // A: MS 0-3, 3-6, 6-9 and, A being closed by B, its last four 8-11. B: 0-3; MS 4 pending.
    expect(r.groups.map((g: any) => g.n_ms)).toEqual([4, 4, 4, 4, 4]);
    expect(r.pending).toHaveLength(1);
    expect(r.groups.every((g: any) => g.file_outcome === 'written' && g.registry === 'created')).toBe(true);

    const defs = r.groups.map((g: any) => JSON.parse(readFileSync(g.file, 'utf8')));
    const msA = defs[0].ms.map((m: any) => m.group_id);
    expect(r.groups[0].id).toBe(firstBatch.groups[0].group);
    expect(r.groups[0].file).toBe(path.join(stage, 'raw', 'groups', '2025-10-02', `group_${r.groups[0].id}.json`));
    expect(defs[1].ms[0].path).toBe(defs[0].ms[3].path); // overlap 1
    expect(defs[3].ms.at(-1).group_id).toBe(firstBatch.groups[11].group);
    expect(defs[3].ms[0].group_id).toBe(firstBatch.groups[8].group);
    expect(msA).toEqual(firstBatch.groups.slice(0, 4).map((g: any) => g.group));
    for (const d of defs) {
      expect(d.format).toBe('contimg-ms-group/1');
      expect(d.start_mjd).toBe(d.ms[0].start_mjd);
      expect(new Date(d.start_iso).getTime()).toBeCloseTo((d.start_mjd - 40587) * 86400e3, -1);
    }

    // The transit: 3C286 in the first MS of the first group, at the simulator's transit time,
    // ranked by beam × flux ≈ the catalogue flux (it passes through the beam centre).
    const cal = defs[0].calibrator;
    expect(cal.name).toBe('3C286');
    expect(cal.ms).toBe(defs[0].ms[0].path);
    expect(cal.ms_position).toBe(0);
    expect(cal.at_transit).toBe(true);
    expect(Math.abs(cal.transit_mjd - (truth.calibrator.transit_jd - 2_400_000.5)) * 86400).toBeLessThan(1);
    expect(cal.separation_deg).toBeLessThan(0.01);
    expect(cal.rank).toBeGreaterThan(0.999 * 15);
    expect(cal.rank).toBeLessThanOrEqual(15);
    // Later groups see it further out in the beam, so lower. Sequence B, 20 minutes on, has
    // 3C286 five degrees away but 3C293 (3.5 Jy at 31.45°) 0.9° from its beam centre.
    expect(defs[1].calibrator?.rank ?? 0).toBeLessThan(cal.rank);
    expect(defs[1].calibrator?.at_transit).toBe(false);
    expect(defs[4].candidates.map((c: any) => c.name)).not.toContain('3C286');
    expect(defs[4].calibrator.name).toBe('3C293');
    expect(defs[4].calibrator.rank).toBeCloseTo(3.5 * defs[4].calibrator.beam_response, 12);

    const regs = await openRegistries(openLayout({ stageBase: stage, dataBase: data }), { readonly: true });
    try {
      const rows = await regs.products.selectFrom('ms_groups').selectAll().orderBy('start_mjd').execute();
      expect(rows.map((x) => x.group_id)).toEqual(r.groups.map((g: any) => g.id));
      expect(rows[0]).toMatchObject({ calibrator: '3C286', transit_ms: cal.ms, n_ms: 4, definition_path: r.groups[0].file });
      expect(rows[4]).toMatchObject({ calibrator: '3C293', transit_ms: defs[4].calibrator.ms });
      const members = await regs.products.selectFrom('ms_group_members').selectAll().where('group_id', '=', rows[1]!.group_id).orderBy('position').execute();
      expect(members.map((m) => m.ms_path)).toEqual(defs[1].ms.map((m: any) => m.path));
    } finally {
      await regs.close();
    }
  });

  it('is idempotent: a rerun rewrites no file and adds no row; --flush adds the open tail', async () => {
    const dir = path.join(stage, 'raw', 'groups', '2025-10-02');
    const before = new Map(readdirSync(dir).map((n) => [n, statSync(path.join(dir, n)).mtimeMs]));
    const again = await cliJson('groups', ...base(), '--size', '4', '--overlap', '1', '--json');
    expect(again.groups.map((g: any) => [g.file_outcome, g.registry])).toEqual(Array(5).fill(['unchanged', 'unchanged']));
    for (const [n, t] of before) expect(statSync(path.join(dir, n)).mtimeMs).toBe(t);
    expect(readdirSync(dir).sort()).toEqual([...before.keys()].sort());

    const flushed = await cliJson('groups', ...base(), '--size', '4', '--overlap', '1', '--flush', '--json');
    expect(flushed.groups).toHaveLength(6);
    expect(flushed.groups.slice(0, 5).every((g: any) => g.registry === 'unchanged')).toBe(true);
    expect(flushed.groups[5]).toMatchObject({ registry: 'created', file_outcome: 'written', n_ms: 4 });
    expect(flushed.pending).toEqual([]);
    const regs = await openRegistries(openLayout({ stageBase: stage, dataBase: data }), { readonly: true });
    try {
      const n = await regs.products.selectFrom('ms_groups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(n.n)).toBe(6);
      const m = await regs.products.selectFrom('ms_group_members').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(m.n)).toBe(24);
    } finally {
      await regs.close();
    }
  });

  it('reports groups no longer formed from the same MS, and --prune removes them (rows, then files)', async () => {
    const before = await cliJson('groups', ...base(), '--size', '4', '--overlap', '1', '--flush', '--json');
    expect(before.superseded).toEqual([]);
    // Overlap 2 instead of 1: groups start at MS 0, 2, 4, …; the old ones at 3, 6, … are superseded.
    const changed = await cliJson('groups', ...base(), '--size', '4', '--overlap', '2', '--flush', '--json');
    const oldIds = new Set(before.groups.map((g: any) => g.id));
    const newIds = new Set(changed.groups.map((g: any) => g.id));
    const gone = [...oldIds].filter((id) => !newIds.has(id));
    expect(gone.length).toBeGreaterThan(0);
    expect(changed.superseded.map((g: any) => g.id).sort()).toEqual(gone.sort());
    expect(changed.pruned).toBe(false);
    for (const g of changed.superseded) expect(existsSync(g.file)).toBe(true);
    const pruned = await cliJson('groups', ...base(), '--size', '4', '--overlap', '2', '--flush', '--prune', '--json');
    expect(pruned.pruned).toBe(true);
    for (const g of pruned.superseded) expect(existsSync(g.file)).toBe(false);
    const again = await cliJson('groups', ...base(), '--size', '4', '--overlap', '2', '--flush', '--json');
    expect(again.superseded).toEqual([]);
    expect(again.groups.every((g: any) => g.registry === 'unchanged' && g.file_outcome === 'unchanged')).toBe(true);
    const regs = await openRegistries(openLayout({ stageBase: stage, dataBase: data }), { readonly: true });
    try {
      const ids = (await regs.products.selectFrom('ms_groups').select('group_id').execute()).map((r) => r.group_id).sort();
      expect(ids).toEqual([...newIds].sort());
    } finally {
      await regs.close();
    }
  });

  it('groups a directory of MS flat with the default size, and refuses bad options', async () => {
    const out = tmpDir();
    const msDir = path.join(stage, 'raw', 'ms', 'science', '2025-10-02');
    const r = await cliJson('groups', '--input-dir', msDir, '--output-dir', out, '--flush', '--json');
    // The science MS of A (the calibrator MS are elsewhere) and B: fewer than 10 per sequence,
    // so one flushed group per sequence, unregistered.
    const inDir = readdirSync(msDir).filter((n) => n.endsWith('.ms')).map((n) => path.join(msDir, n));
    expect(r.nMs).toBe(inDir.length);
    expect(r.groups.length).toBeGreaterThanOrEqual(1);
    expect(r.groups.every((g: any) => g.registry === 'not registered' && path.dirname(g.file) === out && g.n_ms <= 10)).toBe(true);
    // With --flush every MS is in a group; the times read from the MS (casacore) match the registry's.
    const defs = r.groups.map((g: any) => JSON.parse(readFileSync(g.file, 'utf8')));
    expect(new Set(defs.flatMap((d: any) => d.ms.map((m: any) => m.path)))).toEqual(new Set(inDir));
    const regs = await openRegistries(openLayout({ stageBase: stage, dataBase: data }), { readonly: true });
    try {
      for (const m of defs.flatMap((d: any) => d.ms)) {
        const row = await regs.products.selectFrom('ms_index').selectAll().where('path', '=', m.path).executeTakeFirstOrThrow();
        expect(Math.abs(row.start_mjd - m.start_mjd) * 86400).toBeLessThan(0.01);
        expect(Math.abs(row.pointing_dec_deg! - m.pointing_dec_deg)).toBeLessThan(1 / 3600);
      }
    } finally {
      await regs.close();
    }
    const bad = await cli('groups', ...base(), '--size', '4', '--overlap', '4');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('GROUPS_INVALID_ARGUMENT');
    const none = await cli('groups', '--size', '4');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--layout');
  });
});

describe('group formation rule', () => {
  const ms = (i: number, startMin: number): MsRecord => {
    const start = 60950 + startMin / 1440;
    return { path: `/x/${i}.ms`, groupId: `g${String(i).padStart(3, '0')}`, startMjd: start, endMjd: start + 5 / 1440, pointingDecDeg: 30 };
  };
  it('10 by 10 with an overlap of 2; a gap of more than 1.5 durations breaks the sequence; jitter does not', () => {
    const list = Array.from({ length: 30 }, (_, i) => ms(i, i * 5 + (i % 3) * 0.3));
    const f = formMsGroups(list);
    expect(f.groups.map((g) => [g.members[0]!.path, g.members.length])).toEqual([
      ['/x/0.ms', 10],
      ['/x/8.ms', 10],
      ['/x/16.ms', 10],
    ]);
    expect(f.pending.map((m) => m.path)).toEqual(['/x/26.ms', '/x/27.ms', '/x/28.ms', '/x/29.ms']);
    // One MS missing (a 10-minute spacing) starts a new sequence.
    const gap = formMsGroups([...list.slice(0, 12), ...list.slice(13)]);
    expect(gap.sequences).toBe(2);
    expect(gap.groups[0]!.members.map((m) => m.path)).toEqual(list.slice(0, 10).map((m) => m.path));
    expect(gap.groups[1]!.members.map((m) => m.path)).toEqual(list.slice(2, 12).map((m) => m.path));
    // Input order does not matter, and the same MS twice counts once.
    expect(formMsGroups([...list].reverse().concat(list.slice(0, 3))).groups).toEqual(f.groups);
  });
});

describe('contimg groups killed at any point', () => {
  const args = () => ['groups', ...base(), '--size', '4', '--overlap', '1', '--flush', '--json'];
  const restore = () => {
    rmSync(path.join(stage, 'raw', 'groups'), { recursive: true, force: true });
    for (const n of readdirSync(path.join(data, 'state'))) if (n.startsWith('products.sqlite3')) rmSync(path.join(data, 'state', n));
    for (const n of readdirSync(pristine)) copyFileSync(path.join(pristine, n), path.join(data, 'state', n));
  };
  const snapshot = async () => {
    const dir = path.join(stage, 'raw', 'groups');
    const files: Record<string, string> = {};
    if (existsSync(dir)) for (const n of readdirSync(dir, { recursive: true }) as string[]) if (n.endsWith('.json') || n.includes('tmp')) files[n] = readFileSync(path.join(dir, n), 'utf8');
    const regs = await openRegistries(openLayout({ stageBase: stage, dataBase: data }), { readonly: true });
    try {
      const groups = (await regs.products.selectFrom('ms_groups').selectAll().orderBy('group_id').execute()).map(({ registered_at: _r, updated_at: _u, ...rest }) => rest);
      const members = await regs.products.selectFrom('ms_group_members').selectAll().orderBy('group_id').orderBy('position').execute();
      return { files, groups, members };
    } finally {
      await regs.close();
    }
  };

  it('leaves the old state or the new one, every registered definition in place, and a rerun finishes', async () => {
    restore();
    await cliJson(...args());
    const reference = await snapshot();
    expect(reference.groups).toHaveLength(6);
    const traceFile = path.join(tmpDir(), 'trace');
    restore();
    const traced = await runChild(args(), { env: { CONTIMG_FAULT_TRACE: traceFile } });
    expect(traced.code, traced.stderr).toBe(0);
    const points = readFileSync(traceFile, 'utf8').trim().split('\n').length;
    expect(points).toBe(12);
    for (let k = 1; k <= points; k++) {
      restore();
      const r = await runChild(args(), { env: { CONTIMG_FAULT_KILL_AT: String(k) } });
      expect(r.signal, `killed at ${k}: ${r.stderr}`).toBe('SIGKILL');
      const mid = await snapshot();
      // Files are whole, and every registered group's definition exists with its content.
      for (const [n, text] of Object.entries(mid.files)) expect(text, n).toBe(reference.files[n]);
      for (const g of mid.groups) expect(existsSync(g.definition_path), `killed at ${k}`).toBe(true);
      await cliJson(...args());
      expect(await snapshot(), `killed at ${k}, then rerun`).toEqual(reference);
    }
  }, 120_000);
});
