/**
 * ts/layout: the roots and their CONTIMG_* variables, every path rule, the DATA_TYPES table, the
 * layout state, dual-write and failure logs, and path safety.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DATA_TYPES,
  ENV_VARS,
  LEGACY_MAPPING,
  dualWrite,
  obsDateOfGroup,
  openLayout,
  parseUtcDate,
  recordFailure,
  resolveLayout,
  resolveRoots,
  safeName,
  timestampInName,
  utcDateOfMjd,
  writeLayoutState,
  type UtcDate,
} from '../../ts/layout/index.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const D = (s: string) => parseUtcDate(s);

function bases() {
  const r = tmpDir('contimg-layout-');
  return { stageBase: path.join(r, 'stage'), dataBase: path.join(r, 'data'), env: {} as NodeJS.ProcessEnv };
}

describe('roots and CONTIMG_* variables', () => {
  it('uses the seed defaults, then the variables, then the options', () => {
    const def = resolveRoots({ env: {} });
    expect(def.roots.stageBase).toBe('/stage/dsa110-contimg');
    expect(def.roots.dataBase).toBe('/data/dsa110-contimg');
    expect(def.roots.rawMs).toBe('/stage/dsa110-contimg/raw/ms');
    expect(def.roots.calibratedMs).toBe('/stage/dsa110-contimg/calibrated/ms');
    expect(def.roots.calibrationTables).toBe('/stage/dsa110-contimg/calibrated/tables');
    expect(def.roots.images).toBe('/stage/dsa110-contimg/images');
    expect(def.roots.mosaics).toBe('/stage/dsa110-contimg/mosaics');
    expect(def.roots.products).toBe('/stage/dsa110-contimg/products');
    expect(def.roots.workspace).toBe('/stage/dsa110-contimg/workspace');
    expect(def.roots.publishedProducts).toBe('/data/dsa110-contimg/products');
    expect(new Set(Object.values(def.sources))).toEqual(new Set(['default']));

    const env = { CONTIMG_STAGE_BASE: '/ssd/c', CONTIMG_DATA_BASE: '/hdd/c', CONTIMG_IMAGES_DIR: '/fast/images', CONTIMG_WORKSPACE_DIR: '/dev/shm/ws' };
    const e = resolveRoots({ env });
    expect(e.roots.rawMs).toBe('/ssd/c/raw/ms');
    expect(e.roots.images).toBe('/fast/images');
    expect(e.roots.workspace).toBe('/dev/shm/ws');
    expect(e.roots.publishedProducts).toBe('/hdd/c/products');
    expect(e.sources.images).toBe('env');
    expect(e.sources.rawMs).toBe('env');

    // --stage-base names the whole stage tree: it overrides the stage's per-directory variables too.
    const o = resolveRoots({ env, stageBase: '/other/stage' });
    expect(o.roots.images).toBe('/other/stage/images');
    expect(o.roots.workspace).toBe('/other/stage/workspace');
    expect(o.roots.dataBase).toBe('/hdd/c');
    expect(o.sources.stageBase).toBe('option');
  });

  it('every variable of the seed is read', () => {
    expect(Object.values(ENV_VARS).sort()).toEqual(
      [
        'CONTIMG_STAGE_BASE',
        'CONTIMG_DATA_BASE',
        'CONTIMG_RAW_MS_DIR',
        'CONTIMG_CALIBRATED_MS_DIR',
        'CONTIMG_CALIBRATION_TABLES_DIR',
        'CONTIMG_IMAGES_DIR',
        'CONTIMG_MOSAICS_DIR',
        'CONTIMG_PRODUCTS_DIR',
        'CONTIMG_WORKSPACE_DIR',
        'CONTIMG_PUBLISHED_PRODUCTS_DIR',
      ].sort(),
    );
    for (const [root, name] of Object.entries(ENV_VARS)) {
      if (root === 'stageBase' || root === 'dataBase') continue;
      const r = resolveRoots({ env: { [name]: `/x/${root}` } });
      expect(r.roots[root as keyof typeof r.roots], name).toBe(`/x/${root}`);
    }
  });

  it('refuses relative variables and nested trees, naming them', () => {
    expect(() => resolveRoots({ env: { CONTIMG_RAW_MS_DIR: 'raw/ms' } })).toThrow(/CONTIMG_RAW_MS_DIR='raw\/ms' must be an absolute path/);
    expect(() => resolveRoots({ env: {}, stageBase: '/a', dataBase: '/a/data' })).toThrow(/must be separate trees/);
    expect(() => resolveRoots({ env: {}, stageBase: '/a/stage', dataBase: '/a' })).toThrow(/must be separate trees/);
  });

  it('resolveLayout is null unless the layout is asked for', () => {
    expect(resolveLayout({ env: {} })).toBeNull();
    expect(resolveLayout({ env: { CONTIMG_STAGE_BASE: '  ' } })).toBeNull();
    expect(resolveLayout({ env: {}, layout: true })?.roots.stageBase).toBe('/stage/dsa110-contimg');
    expect(resolveLayout({ env: { CONTIMG_STAGE_BASE: '/s' } })?.roots.rawMs).toBe('/s/raw/ms');
    expect(resolveLayout({ env: {}, stageBase: '/t' })?.roots.rawMs).toBe('/t/raw/ms');
  });
});

describe('path rules', () => {
  const b = bases();
  const layout = openLayout(b);
  const S = b.stageBase;

  it('dates directories by the observation, not the processing: a group at 23:58 stays on its day', () => {
    expect(layout.msPathFor({ groupId: '2025-10-02T23:58:00', kind: 'science' })).toBe(`${S}/raw/ms/science/2025-10-02/2025-10-02T23:58:00.ms`);
    expect(layout.msPathFor({ groupId: '2025-10-02T23:58:00', kind: 'calibrator' })).toBe(`${S}/raw/ms/calibrators/2025-10-02/2025-10-02T23:58:00.ms`);
    // A non-timestamp group id needs its date.
    expect(() => layout.msPathFor({ groupId: 'single_file', kind: 'science' })).toThrow(/not a UTC timestamp.*pass the observation date/);
    expect(layout.msPathFor({ groupId: 'single_file', kind: 'science', obsDate: D('2025-10-03') })).toBe(`${S}/raw/ms/science/2025-10-03/single_file.ms`);
    expect(utcDateOfMjd(60950 + 23.97 / 24)).toBe('2025-10-02');
    expect(utcDateOfMjd(60951)).toBe('2025-10-03');
    expect(obsDateOfGroup('2025-10-02T23:58:00')).toBe('2025-10-02');
  });

  it('places every product type as seed 004 draws it', () => {
    expect(layout.calibratedMsPath({ groupId: '2025-10-02T12:00:00', kind: 'science' })).toBe(`${S}/calibrated/ms/science/2025-10-02/2025-10-02T12:00:00_cal.ms`);
    expect(layout.calTablePath('2025-10-02T12:00:00', 'bandpass')).toBe(`${S}/calibrated/tables/2025-10-02/2025-10-02T12:00:00_bpcal`);
    expect(layout.calTablePath('2025-10-02T12:00:00', 'gain')).toBe(`${S}/calibrated/tables/2025-10-02/2025-10-02T12:00:00_gpcal`);
    expect(layout.calTablePath('2025-10-02T12:00:00', 'gain2')).toBe(`${S}/calibrated/tables/2025-10-02/2025-10-02T12:00:00_2gcal`);
    expect(layout.imagePath('2025-10-02T12:00:00', 'briggs0')).toBe(`${S}/images/2025-10-02/2025-10-02T12:00:00_briggs0.image`);
    expect(layout.mosaicPath('2025-10-02T12:00:00', 'mean')).toBe(`${S}/mosaics/2025-10-02/mosaic_2025-10-02T12:00:00_mean.fits`);
    expect(layout.groupDefinitionPath('2025-10-02T12:00:00')).toBe(`${S}/raw/groups/2025-10-02/group_2025-10-02T12:00:00.json`);
    expect(layout.conversionWorkspace()).toBe(`${S}/workspace/active/conversion`);
    expect(layout.workspaceDir('mosaicking')).toBe(`${S}/workspace/active/mosaicking`);
    expect(layout.failedLogPath('2025-10-02T23:58:00', D('2025-10-02'))).toBe(`${S}/workspace/failed/2025-10-02/2025-10-02T23:58:00_error.log`);
    expect(layout.validatedPath('mosaic', 'm.fits', D('2025-10-02'))).toBe(`${S}/products/mosaics/2025-10-02/m.fits`);
    expect(layout.publishedPath('mosaic', 'm.fits', D('2025-10-02'))).toBe(`${b.dataBase}/products/mosaics/2025-10-02/m.fits`);
    expect(layout.incomingDir(D('2025-10-02'))).toBe(`${b.dataBase}/incoming/2025-10-02`);
    expect(layout.registryPath('cal_registry')).toBe(`${b.dataBase}/state/cal_registry.sqlite3`);
    expect(() => layout.publishedPath('raw_ms', 'x.ms', D('2025-10-02'))).toThrow(/never published/);
  });

  it('exposes the DATA_TYPES table (staging_dir, published_dir)', () => {
    const t = layout.dataTypes();
    expect(t.raw_ms).toEqual({ stagingDir: `${S}/raw/ms`, publishedDir: null });
    expect(t.calibrated_ms).toEqual({ stagingDir: `${S}/calibrated/ms`, publishedDir: `${b.dataBase}/products/ms` });
    expect(t.calibration_table).toEqual({ stagingDir: `${S}/calibrated/tables`, publishedDir: `${b.dataBase}/products/caltables` });
    expect(t.image).toEqual({ stagingDir: `${S}/images`, publishedDir: `${b.dataBase}/products/images` });
    expect(t.mosaic).toEqual({ stagingDir: `${S}/mosaics`, publishedDir: `${b.dataBase}/products/mosaics` });
    expect(Object.keys(DATA_TYPES)).toContain('catalog');
  });

  it('maps new products to their legacy paths for dual-write', () => {
    expect(layout.legacyPathFor(`${S}/raw/ms/calibrators/2025-10-02/x.ms`)).toBe(`${S}/ms/calibrators/x.ms`);
    expect(layout.legacyPathFor(`${S}/calibrated/tables/2025-10-02/g_bpcal`)).toBe(`${S}/caltables/g_bpcal`);
    expect(layout.legacyPathFor(`${S}/images/2025-10-02/a.image`)).toBe(`${S}/images/a.image`);
    expect(layout.legacyPathFor(`${S}/products/mosaics/2025-10-02/m.fits`)).toBeNull();
    expect(layout.legacyPathFor(`${S}/raw/ms/science/notadate/x.ms`)).toBeNull();
    expect(LEGACY_MAPPING.map((r) => r.category)).toEqual(['raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic', 'state', 'log', 'tmp', 'unsorted']);
  });
});

describe('path safety', () => {
  const b = bases();
  const layout = openLayout(b);

  it('refuses names with .., /, absolute paths, NUL, control characters or a leading dot, saying why', () => {
    const bad: [string, RegExp][] = [
      ['..', /'\.\.' is not a safe file name: it names a directory itself/],
      ['../../etc/passwd', /contains '\/'/],
      ['/etc/passwd', /is an absolute path/],
      ['a\0b', /NUL/],
      ['a\nb', /control characters/],
      ['.hidden', /starts with '\.'/],
      ['', /is empty/],
      ['x'.repeat(300), /longer than 255 bytes/],
    ];
    for (const [name, why] of bad) expect(() => safeName(name, 'job id'), JSON.stringify(name)).toThrow(why);
    expect(() => layout.failedLogPath('../../../etc/cron.d/x', D('2025-10-02'))).toThrow(/job id '\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x' is not a safe file name/);
    expect(() => layout.msPathFor({ groupId: '/abs', kind: 'science', obsDate: D('2025-10-02') })).toThrow(/group id '\/abs' is not a safe file name: it is an absolute path/);
    expect(() => layout.imagePath('2025-10-02T00:00:00', '../x')).toThrow(/image parameters/);
    expect(() => parseUtcDate('2025-02-30')).toThrow(/not a UTC date/);
    expect(() => layout.failedLogPath('j', '../x' as UtcDate)).toThrow(/not a UTC date/);
  });

  it('refuses paths outside the bases, directly or through a symlink', () => {
    mkdirSync(path.join(b.stageBase, 'images'), { recursive: true });
    const outside = tmpDir('contimg-outside-');
    symlinkSync(outside, path.join(b.stageBase, 'images', '2025-10-02'));
    expect(() => layout.assertInside('/etc/passwd', 'product')).toThrow(/product \/etc\/passwd is outside the layout/);
    expect(() => layout.assertInside(path.join(b.stageBase, 'images', '2025-10-02', 'x.fits'), 'product')).toThrow(/resolves through a symlink to .* outside the layout/);
    expect(layout.assertInside(path.join(b.stageBase, 'raw', 'x'), 'product')).toBe(path.join(b.stageBase, 'raw', 'x'));
  });

  it('timestamps are taken from names only when they are real times', () => {
    expect(timestampInName('mosaic_2025-10-02T12:00:00_mean.fits')).toBe('2025-10-02T12:00:00');
    expect(timestampInName('2025-13-02T12:00:00.image')).toBeUndefined();
    expect(timestampInName('notes.txt')).toBeUndefined();
  });
});

describe('writers: dual-write and failure logs', () => {
  it('dual-write links the legacy path to a new product, only in dual-write mode, never over data', () => {
    const b = bases();
    const target = path.join(b.stageBase, 'raw/ms/science/2025-10-02/2025-10-02T01:00:00.ms');
    mkdirSync(target, { recursive: true });
    expect(dualWrite(openLayout(b), target)).toBeNull();
    writeLayoutState(b.dataBase, { writeMode: 'dual-write', legacyBase: b.stageBase, setBy: 'test' });
    const layout = openLayout(b);
    expect(layout.writeMode).toBe('dual-write');
    const legacy = dualWrite(layout, target)!;
    expect(legacy).toBe(path.join(b.stageBase, 'ms/science/2025-10-02T01:00:00.ms'));
    expect(readlinkSync(legacy)).toBe(target);
    expect(dualWrite(layout, target)).toBe(legacy); // idempotent
    const other = path.join(b.stageBase, 'raw/ms/science/2025-10-02/2025-10-02T02:00:00.ms');
    mkdirSync(other);
    mkdirSync(path.join(b.stageBase, 'ms/science/2025-10-02T02:00:00.ms'));
    expect(() => dualWrite(layout, other)).toThrow(/2025-10-02T02:00:00\.ms: cannot make it a link to .*: a dir is already there/);
    expect(() => dualWrite(layout, path.join(b.stageBase, 'raw/ms/science/2025-10-02/missing.ms'))).toThrow(/does not exist \(write it first\)/);
  });

  it('the layout state file is validated, and written atomically', () => {
    const b = bases();
    mkdirSync(path.join(b.dataBase, 'state'), { recursive: true });
    writeFileSync(path.join(b.dataBase, 'state', 'layout.json'), '{"version": 1, "writeMode": "sideways"}');
    expect(() => openLayout(b)).toThrow(/layout\.json: expected/);
    writeLayoutState(b.dataBase, { writeMode: 'legacy', legacyBase: '/old', setBy: 'test' });
    const l = openLayout(b);
    expect(l.writeMode).toBe('legacy');
    expect(l.legacy.base).toBe('/old');
    expect(l.msPathFor({ groupId: '2025-10-02T01:00:00', kind: 'calibrator' })).toBe('/old/ms/calibrators/2025-10-02T01:00:00.ms');
  });

  it('a failed job leaves workspace/failed/YYYY-MM-DD/<job>_error.log, appended on a second failure', () => {
    const b = bases();
    const layout = openLayout(b);
    const log = recordFailure(layout, { jobId: '2025-10-02T23:58:00', obsDate: D('2025-10-02'), error: { code: 'UVH5_TRUNCATED', message: 'sb03 is short' }, context: { inputs: 16 } });
    expect(log).toBe(path.join(b.stageBase, 'workspace/failed/2025-10-02/2025-10-02T23:58:00_error.log'));
    recordFailure(layout, { jobId: '2025-10-02T23:58:00', obsDate: D('2025-10-02'), error: { message: 'again' } });
    const text = readFileSync(log, 'utf8');
    expect(text).toContain('[UVH5_TRUNCATED] sb03 is short');
    expect(text).toContain('"inputs": 16');
    expect(text).toContain('\n---\n');
    expect(text).toContain('error: again');
    expect(existsSync(path.join(path.dirname(log), `.${path.basename(log)}.tmp`))).toBe(false);
  });
});
