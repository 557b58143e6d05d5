/**
 * `contimg migrate` on a legacy tree of real MS: phases 1→4, plan/status against what happened,
 * rollbacks of phases 1–3, dual-write during phase 1, path safety, and the copy-verify-delete
 * path across file systems.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayout, dualWrite, type SameFileSystem } from '../../ts/layout/index.js';
import { Migration, type Phase } from '../../ts/migrate/index.js';
import { openRegistries, registerMs } from '../../ts/registry/index.js';
import { native } from '../../ts/native.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { expectMigrated, expectRegistriesResolve, registeredProductPaths, snapshot } from './checks.js';
import {
  EXPECTED,
  baseArgs,
  cleanupOtherDirs,
  contentDigest,
  copyLegacy,
  expectedPath,
  makeLegacyTemplate,
  makeRealMs,
  otherFileSystemDir,
  symlinksUnder,
  type Fixture,
} from './fixtures.js';

let template: string;
beforeAll(async () => {
  template = await makeLegacyTemplate(tmpDir('contimg-template-'));
});
afterAll(() => {
  cleanupTmpDirs();
  cleanupOtherDirs();
});

async function run(f: Fixture, phase: Phase, ...extra: string[]) {
  return cliJson('migrate', 'run', '--phase', String(phase), ...baseArgs(f), ...extra);
}

async function withMigration<T>(f: Fixture, fn: (m: Migration) => Promise<T>, sameFs?: SameFileSystem): Promise<T> {
  const m = await Migration.open({ layout: openLayout({ stageBase: f.stage, dataBase: f.data, legacyBase: f.legacy }), mode: 'write', sameFs });
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

const key = (a: { action: string; src?: string; dst?: string }) => `${a.action} ${a.src ?? ''} → ${a.dst ?? ''}`;

describe('contimg migrate: phases 1 → 4', () => {
  it('moves the legacy tree: data intact, registries resolve, no links left, legacy tree gone; plan and status match what happened', async () => {
    const f = copyLegacy(template);
    const plan = await cliJson('migrate', 'plan', ...baseArgs(f));
    // A dry run changes nothing: not even the data tree is created.
    expect(existsSync(f.data)).toBe(false);
    const moves = plan.phases[2].actions.map((a: any) => a.action).filter((a: any) => a.action === 'move');
    for (const e of EXPECTED) expect(moves, e.legacy).toContainEqual(expect.objectContaining({ src: path.join(f.legacy, e.legacy), dst: expectedPath(f, e) }));
    expect(moves).toHaveLength(EXPECTED.length);
    for (const ph of plan.phases) expect(ph.problems, `phase ${ph.phase}`).toEqual([]);

    for (const p of [1, 2, 3, 4] as Phase[]) {
      const r = await run(f, p);
      expect(r.alreadyDone).toBe(false);
      if (p === 3) expect(r.verification.ok).toBe(true);
    }
    expectMigrated(f);

    // status --items lists exactly what plan predicted, every action done.
    const status = await cliJson('migrate', 'status', '--items', ...baseArgs(f));
    expect(status.next).toBeNull();
    for (const ph of status.phases) {
      expect(ph.status).toBe('done');
      expect(ph.actions.done).toBe(ph.actions.total);
      const planned = plan.phases[ph.phase - 1].actions.map((a: any) => key(a.action)).sort();
      expect(ph.items.map((i: any) => key(i.action)).sort(), `phase ${ph.phase}`).toEqual(planned);
    }
    // After the migration, plan reports the phases as done, from the journal.
    const after = await cliJson('migrate', 'plan', ...baseArgs(f));
    expect(after.phases.map((p: any) => [p.status, p.source])).toEqual(Array(4).fill(['done', 'journal']));

    // Every phase is idempotent: running it again changes nothing.
    const snap = snapshot(f);
    for (const p of [1, 2, 3, 4] as Phase[]) expect((await run(f, p)).alreadyDone).toBe(true);
    expect(snapshot(f)).toEqual(snap);
    const v = await cli('migrate', 'verify', '--checksums', ...baseArgs(f));
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/verification passed: .*checksums recomputed/);
  });

  it('registers each MS with its own time range: the group at 23:58 stays on its start date', async () => {
    const f = copyLegacy(template);
    for (const p of [1, 2] as Phase[]) await run(f, p);
    const db = new Database(path.join(f.data, 'state', 'products.sqlite3'), { readonly: true });
    const rows = db.prepare('SELECT * FROM ms_index ORDER BY start_mjd').all() as any[];
    db.close();
    expect(rows.map((r) => [path.relative(f.legacy, r.path), r.kind, r.obs_date])).toEqual([
      ['ms/science/2025-10-01/2025-10-01T10:00:00.ms', 'science', '2025-10-01'],
      ['ms/science/2025-10-02T03:00:00.ms', 'science', '2025-10-02'],
      ['ms/calibrators/2025-10-02T20:30:00.ms', 'calibrator', '2025-10-02'],
      ['ms/science/2025-10-02T23:58:00.ms', 'science', '2025-10-02'],
      ['ms/science/2025-10-03T00:03:00.ms', 'science', '2025-10-03'],
    ]);
    const late = rows[3];
    // 2025-10-03T00:00 is MJD 60951: this group ends after midnight but is dated by its start.
    expect(late.start_mjd).toBeGreaterThan(60950.998);
    expect(late.start_mjd).toBeLessThan(60951);
    expect(late.end_mjd).toBeGreaterThan(60951);
    // The time range is the MS's own: 12 integrations of 12.885 s from 23:58:00.
    expect((late.end_mjd - late.start_mjd) * 86400).toBeCloseTo(12 * 12.884902, 1);
    // The pointing declination of date, as the converter registers it (simulated at 54.57°),
    // recovered from the ICRS FIELD by its apparent place.
    expect(Math.abs(late.pointing_dec_deg - 54.57)).toBeLessThan(0.001);
    // Phase 2 switched writers to the new layout.
    expect(JSON.parse(readFileSync(path.join(f.data, 'state', 'layout.json'), 'utf8')).writeMode).toBe('new');
    // Calibration tables are valid from their group's start; provenance links products to inputs.
    const cal = new Database(path.join(f.data, 'state', 'cal_registry.sqlite3'), { readonly: true });
    const tables = cal.prepare('SELECT table_type, valid_start_mjd, valid_end_mjd FROM caltables ORDER BY table_type').all();
    cal.close();
    expect(tables).toEqual([
      { table_type: 'bandpass', valid_start_mjd: expect.closeTo(60950 + 20.5 / 24, 9), valid_end_mjd: null },
      { table_type: 'gain', valid_start_mjd: expect.closeTo(60950 + 20.5 / 24, 9), valid_end_mjd: null },
    ]);
    const data = new Database(path.join(f.data, 'state', 'data_registry.sqlite3'), { readonly: true });
    const prov = data
      .prepare('SELECT p.name AS product, i.name AS input FROM data_provenance v JOIN data_registry p ON p.id = v.product_id JOIN data_registry i ON i.id = v.input_product_id ORDER BY 1, 2')
      .all();
    data.close();
    expect(prov).toEqual([
      { product: '2025-10-02T03:00:00_briggs.image', input: '2025-10-02T03:00:00_cal.ms' },
      { product: '2025-10-02T03:00:00_cal.ms', input: '2025-10-02T03:00:00.ms' },
      { product: '2025-10-02T20:30:00_bpcal', input: '2025-10-02T20:30:00.ms' },
      { product: '2025-10-02T20:30:00_cal.ms', input: '2025-10-02T20:30:00.ms' },
      { product: '2025-10-02T20:30:00_gpcal', input: '2025-10-02T20:30:00.ms' },
      { product: '2025-10-03T00:03:00_natural.fits', input: '2025-10-03T00:03:00.ms' },
    ]);
  });

  it('refuses to run phases out of order, and status says what comes next', async () => {
    const f = copyLegacy(template);
    const r = await cli('migrate', 'run', '--phase', '3', ...baseArgs(f));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('phase 2 has not finished');
    await run(f, 1);
    const s = await cliJson('migrate', 'status', ...baseArgs(f));
    expect(s.next).toBe('contimg migrate run --phase 2');
    expect(s.writeMode).toBe('dual-write');
    const usage = await cli('migrate', 'run', ...baseArgs(f));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--phase');
  });
});

describe('path safety', () => {
  it('refuses a legacy symlink that points outside the bases, naming it, and changes nothing', async () => {
    const f = copyLegacy(template);
    const outside = tmpDir('contimg-outside-');
    mkdirSync(path.join(outside, 'x.ms'));
    const evil = path.join(f.legacy, 'ms', 'science', '2025-10-02T05:00:00.ms');
    symlinkSync(path.join(outside, 'x.ms'), evil);
    const plan = await cliJson('migrate', 'plan', ...baseArgs(f));
    expect(plan.phases[2].problems.join('\n')).toContain(`${evil} is a symlink to ${path.join(outside, 'x.ms')}, outside the stage and data bases`);
    await run(f, 1);
    const before = snapshot(f);
    const r = await cli('migrate', 'run', '--phase', '2', ...baseArgs(f));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[MIGRATE_REFUSED]');
    expect(r.stderr).toContain(evil);
    expect(r.stderr).toContain('outside the stage and data bases');
    expect(snapshot(f)).toEqual(before);
    expect(registeredProductPaths(f)).toEqual([]);
  });

  it('refuses a legacy directory that is a symlink, and an entry whose destination is taken', async () => {
    const f = copyLegacy(template);
    const elsewhere = tmpDir('contimg-elsewhere-');
    rmSync(path.join(f.legacy, 'caltables'), { recursive: true });
    symlinkSync(elsewhere, path.join(f.legacy, 'caltables'));
    const taken = path.join(f.stage, 'images', '2025-10-03', '2025-10-03T00:03:00_natural.fits');
    mkdirSync(path.dirname(taken), { recursive: true });
    writeFileSync(taken, 'not the same image');
    const plan = await cliJson('migrate', 'plan', ...baseArgs(f));
    const problems = plan.phases[2].problems.join('\n');
    expect(problems).toContain(`${path.join(f.legacy, 'caltables')} is a symlink`);
    expect(problems).toContain(`cannot move to ${taken}: something is already there`);
  });
});

describe('across file systems: copy, verify, delete', () => {
  it('with the legacy tree on tmpfs, every move is a verified copy and the result is the same', async () => {
    const shm = otherFileSystemDir();
    if (!shm) {
      console.warn('no second file system (/dev/shm) here: the injected-predicate test below covers the copy path');
      return;
    }
    const f = copyLegacy(template, { legacyBase: path.join(shm, 'legacy') });
    for (const p of [1, 2, 3, 4] as Phase[]) await run(f, p);
    expectMigrated(f);
    const status = await cliJson('migrate', 'status', '--items', ...baseArgs(f));
    const moves = status.phases[2].items.filter((i: any) => i.action.action === 'move');
    expect(moves).toHaveLength(EXPECTED.length);
    for (const m of moves) expect(m.action.method, m.description).toBe('copy');
    expect(existsSync(f.legacy)).toBe(false);
  });

  it('with a "different file system" predicate, the copy path runs on one file system too', async () => {
    const f = copyLegacy(template);
    const never: SameFileSystem = () => false;
    for (const p of [1, 2, 3, 4] as Phase[]) await withMigration(f, (m) => m.run(p), never);
    expectMigrated(f);
    const db = new Database(path.join(f.data, 'state', 'migration.sqlite3'), { readonly: true });
    const methods = db.prepare("SELECT DISTINCT method FROM migration_items WHERE action = 'move'").all();
    const checksums = db.prepare("SELECT count(*) AS n FROM migration_items WHERE action = 'move' AND checksum LIKE 'tree-sha256:%'").get() as { n: number };
    db.close();
    expect(methods).toEqual([{ method: 'copy' }]);
    expect(checksums.n).toBe(EXPECTED.length);
  });
});

describe('rollback', () => {
  it('rolls back phase 3 (complete), then 2, then 1: back to the legacy layout, data intact', async () => {
    const f = copyLegacy(template);
    const pristine = snapshot(f);
    const afterPhase = new Map<number, ReturnType<typeof snapshot>>();
    for (const p of [1, 2, 3] as Phase[]) {
      await run(f, p);
      afterPhase.set(p, snapshot(f));
    }
    const refused = await cli('migrate', 'rollback', '--phase', '2', ...baseArgs(f));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('roll it back first');

    await cliJson('migrate', 'rollback', '--phase', '3', ...baseArgs(f));
    for (const e of EXPECTED) {
      const p = path.join(f.legacy, e.legacy);
      expect(existsSync(p), p).toBe(true);
      if (f.before.has(e.legacy)) expect(contentDigest(p), e.legacy).toBe(f.before.get(e.legacy));
    }
    expectRegistriesResolve(f, 'after rollback 3');
    for (const p of registeredProductPaths(f)) expect(p.startsWith(f.legacy + '/ms') || p.startsWith(f.legacy + '/calib_ms') || p.startsWith(f.legacy + '/caltables') || p.startsWith(f.legacy + '/images') || p.startsWith(f.legacy + '/mosaics'), p).toBe(true);
    expect(symlinksUnder(f.legacy)).toEqual([]);
    // The old registries are back, with their original paths.
    expect(snapshot(f).legacyTreeRegistries).toEqual(pristine.legacyTreeRegistries);
    const s2 = snapshot(f);
    expect(s2.registries).toEqual(afterPhase.get(2)!.registries);

    await cliJson('migrate', 'rollback', '--phase', '2', ...baseArgs(f));
    expect(registeredProductPaths(f)).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(f.data, 'state', 'layout.json'), 'utf8')).writeMode).toBe('dual-write');

    await cliJson('migrate', 'rollback', '--phase', '1', ...baseArgs(f));
    expect(JSON.parse(readFileSync(path.join(f.data, 'state', 'layout.json'), 'utf8')).writeMode).toBe('legacy');
    for (const d of ['raw', 'calibrated', 'products', 'workspace']) expect(existsSync(path.join(f.stage, d)), d).toBe(false);
    const files = snapshot(f).files as string[];
    expect(files.filter((x) => x.startsWith('<stage>'))).toEqual((pristine.files as string[]).filter((x) => x.startsWith('<stage>')));
    const st = await cliJson('migrate', 'status', ...baseArgs(f));
    expect(st.phases.map((p: any) => p.status)).toEqual(['not-started', 'not-started', 'not-started', 'not-started']);

    // And forward again, to the end.
    for (const p of [1, 2, 3, 4] as Phase[]) await run(f, p);
    expectMigrated(f);
  });

  it('rolls back a phase 3 that stopped half-way', async () => {
    const f = copyLegacy(template);
    for (const p of [1, 2] as Phase[]) await run(f, p);
    const atPhase2 = snapshot(f);
    // Make the 12th move fail: something appears at its destination while phase 3 runs.
    let n = 0;
    let obstacle = '';
    const err = await withMigration(f, (m) =>
      m
        .run(3, (p) => {
          if (p.current.startsWith('move') && ++n === 12) {
            obstacle = p.current.split(' → ')[1]!.split(' [')[0]!;
            mkdirSync(path.dirname(obstacle), { recursive: true });
            writeFileSync(obstacle, 'in the way');
          }
        })
        .catch((e: Error) => e),
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`${obstacle} already exists and was not made by this move`);
    const st = await cliJson('migrate', 'status', ...baseArgs(f));
    expect(st.phases[2].status).toBe('in-progress');
    expect(st.phases[2].actions.byAction.move.done).toBe(11);
    expectRegistriesResolve(f, 'phase 3 stopped half-way');
    // Remove the obstacle (as an operator would), then roll back.
    rmSync(obstacle);
    await cliJson('migrate', 'rollback', '--phase', '3', ...baseArgs(f));
    const back = snapshot(f);
    expect(back.registries).toEqual(atPhase2.registries);
    expect(back.legacyTreeRegistries).toEqual(atPhase2.legacyTreeRegistries);
    for (const e of EXPECTED) if (f.before.has(e.legacy)) expect(contentDigest(path.join(f.legacy, e.legacy)), e.legacy).toBe(f.before.get(e.legacy));
    expect(symlinksUnder(f.legacy)).toEqual([]);
  });

  it('cannot roll back phase 4', async () => {
    const f = copyLegacy(template);
    for (const p of [1, 2, 3, 4] as Phase[]) await run(f, p);
    const r = await cli('migrate', 'rollback', '--phase', '4', ...baseArgs(f));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing to roll back to');
    const r3 = await cli('migrate', 'rollback', '--phase', '3', ...baseArgs(f));
    expect(r3.code).toBe(1);
  });
});

describe('dual-write during phase 1', () => {
  it('a conversion during phase 1 is visible at the old and the new path, and ends up only in the new layout', async () => {
    const f = copyLegacy(template);
    await run(f, 1);
    const layout = openLayout({ stageBase: f.stage, dataBase: f.data });
    expect(layout.writeMode).toBe('dual-write');
    const groupId = '2025-10-02T22:00:00';
    const target = layout.msPathFor({ groupId, kind: 'science' });
    expect(target).toBe(path.join(f.stage, 'raw/ms/science/2025-10-02', `${groupId}.ms`));
    // `contimg convert --layout` writes the MS in place, registers it and dual-writes it.
    const sim = tmpDir('contimg-sim-');
    await cliJson('simulate', '--output-dir', sim, '--start', groupId, '--antennas', '4', '--channels', '8', '--subbands', '2', '--integrations', '2', '--seed', '9');
    const converted = await cliJson('convert', '--input-dir', sim, '--expected-subbands', '2', '--no-tmpfs', '--layout', '--stage-base', f.stage, '--data-base', f.data);
    expect(converted.groups[0]).toMatchObject({ outputMs: target, kind: 'science', registered: true });
    const legacyPath: string | null = converted.groups[0].legacyLink;
    expect(legacyPath).toBe(path.join(f.legacy, 'ms', 'science', `${groupId}.ms`));
    // Both paths show the same MS.
    expect(realpathSync(legacyPath!)).toBe(realpathSync(target));
    const viaOld = native().inspectMs(legacyPath!) as { nRows: number };
    const viaNew = native().inspectMs(target) as { nRows: number };
    expect(viaOld.nRows).toBe(viaNew.nRows);
    expect(viaOld.nRows).toBeGreaterThan(0);
    const digest = contentDigest(target);

    for (const p of [2, 3, 4] as Phase[]) await run(f, p);
    expect(existsSync(legacyPath!)).toBe(false);
    expect(contentDigest(target)).toBe(digest);
    expect(registeredProductPaths(f)).toContain(target);
    expectRegistriesResolve(f, 'after the migration');
  });

  it('rollback of phase 1 moves a dual-written product to its legacy path', async () => {
    const f = copyLegacy(template);
    await run(f, 1);
    const layout = openLayout({ stageBase: f.stage, dataBase: f.data });
    const target = layout.msPathFor({ groupId: '2025-10-02T22:05:00', kind: 'calibrator' });
    await makeRealMs(path.dirname(target), '2025-10-02T22:05:00', { seed: 10 });
    const regs = await openRegistries(layout);
    await registerMs(regs, { path: target, groupId: '2025-10-02T22:05:00', startMjd: 60950.92, endMjd: 60950.921, pointingDecDeg: 54.57, kind: 'calibrator' });
    await regs.close();
    const legacyPath = dualWrite(layout, target)!;
    const digest = contentDigest(target);
    await cliJson('migrate', 'rollback', '--phase', '1', ...baseArgs(f));
    expect(existsSync(target)).toBe(false);
    expect(contentDigest(legacyPath)).toBe(digest);
    expect(registeredProductPaths(f)).toEqual([legacyPath, legacyPath]);
    const after = openLayout({ stageBase: f.stage, dataBase: f.data });
    expect(after.writeMode).toBe('legacy');
    expect(after.msPathFor({ groupId: '2025-10-02T22:10:00', kind: 'science' })).toBe(path.join(f.legacy, 'ms', 'science', '2025-10-02T22:10:00.ms'));
  });
});
