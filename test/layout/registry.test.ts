/**
 * ts/registry: the four registries, their writes, and the path rewrite that moves use.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLayout, parseUtcDate } from '../../ts/layout/index.js';
import {
  CAL_MIGRATIONS,
  DATA_MIGRATIONS,
  INGEST_MIGRATIONS,
  PRODUCTS_MIGRATIONS,
  calTablesValidAt,
  openRegistries,
  registerCalTable,
  registerIngest,
  registerMs,
  registerProduct,
  registeredPaths,
  rewriteRegistryPaths,
} from '../../ts/registry/index.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

function setup() {
  const r = tmpDir('contimg-reg-');
  const layout = openLayout({ stageBase: path.join(r, 'stage'), dataBase: path.join(r, 'data'), env: {} });
  const file = (rel: string, content = 'x') => {
    const p = path.join(r, 'stage', rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    return p;
  };
  return { r, layout, file };
}

describe('registries', () => {
  it('each lives in <data>/state with its own migrations', async () => {
    const { layout } = setup();
    const regs = await openRegistries(layout);
    await regs.close();
    const own = { ingest: INGEST_MIGRATIONS, products: PRODUCTS_MIGRATIONS, cal_registry: CAL_MIGRATIONS, data_registry: DATA_MIGRATIONS };
    for (const [n, m] of Object.entries(own)) {
      const db = new Database(path.join(layout.stateDir, `${n}.sqlite3`), { readonly: true });
      const migrations = db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[];
      db.close();
      expect(migrations.map((x) => x.name), n).toEqual(Object.keys(m).sort());
    }
  });

  it('read-only opening creates nothing', async () => {
    const { layout } = setup();
    const regs = await openRegistries(layout, { readonly: true });
    expect(await registeredPaths(regs)).toEqual([]);
    await regs.close();
    expect(existsSync(layout.stateDir)).toBe(false);
  });

  it('registers an MS in ms_index and data_registry, only once it exists, idempotently', async () => {
    const { layout, file } = setup();
    const regs = await openRegistries(layout);
    const ms = path.join(layout.roots.rawMs, 'science/2025-10-02/2025-10-02T23:58:00.ms');
    const entry = { path: ms, groupId: '2025-10-02T23:58:00', startMjd: 60950.9986, endMjd: 60951.0022, pointingDecDeg: 54.57, kind: 'science' as const, inputs: ['/data/incoming/2025-10-02/a_sb00.hdf5'] };
    await expect(registerMs(regs, entry)).rejects.toThrow(`${ms}: cannot register the MeasurementSet: it does not exist (write it first, then register it)`);
    file(path.relative(layout.roots.stageBase, path.join(ms, 'table.dat')));
    const first = await registerMs(regs, entry);
    const again = await registerMs(regs, entry);
    expect(again.id).toBe(first.id);
    const row = await regs.products.selectFrom('ms_index').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ path: ms, group_id: '2025-10-02T23:58:00', kind: 'science', calibrator: null, status: 'converted', obs_date: '2025-10-02' });
    expect(row.mid_mjd).toBeCloseTo(60951.0004, 6);
    const product = await regs.data.selectFrom('data_registry').selectAll().executeTakeFirstOrThrow();
    expect(product).toMatchObject({ data_type: 'raw_ms', name: '2025-10-02T23:58:00.ms', status: 'staged', checksum: first.checksum.digest });
    const prov = await regs.data.selectFrom('data_provenance').selectAll().execute();
    expect(prov).toEqual([{ product_id: first.id, input_product_id: null, input_path: '/data/incoming/2025-10-02/a_sb00.hdf5' }]);
    await expect(registerMs(regs, { ...entry, calibrator: '3C286' })).rejects.toThrow(/a science MS has no calibrator/);
    await regs.close();
  });

  it('one product per type and name: a second one elsewhere is refused, naming both', async () => {
    const { layout, file } = setup();
    const regs = await openRegistries(layout);
    const a = file('images/2025-10-02/a.image');
    const b = file('elsewhere/a.image');
    await registerProduct(regs, { dataType: 'image', path: a, obsDate: parseUtcDate('2025-10-02') });
    await expect(registerProduct(regs, { dataType: 'image', path: b, obsDate: parseUtcDate('2025-10-02') })).rejects.toThrow(`${b}: a image named a.image is already registered at ${a}`);
    await expect(registerProduct(regs, { dataType: 'mosaic', path: file('m.fits'), obsDate: parseUtcDate('2025-10-02'), inputs: { products: ['/not/registered'] } })).rejects.toThrow(/its input \/not\/registered is not registered/);
    await regs.close();
  });

  it('calibration tables with validity ranges', async () => {
    const { layout, file } = setup();
    const regs = await openRegistries(layout);
    const bp1 = file('calibrated/tables/2025-10-02/2025-10-02T20:30:00_bpcal/table.dat');
    const bp2 = file('calibrated/tables/2025-10-03/2025-10-03T20:26:00_bpcal/table.dat');
    await registerCalTable(regs, { path: path.dirname(bp1), groupId: '2025-10-02T20:30:00', tableType: 'bandpass', validStartMjd: 60950.85, validEndMjd: 60951.85 });
    await registerCalTable(regs, { path: path.dirname(bp2), groupId: '2025-10-03T20:26:00', tableType: 'bandpass', validStartMjd: 60951.85, validEndMjd: null });
    expect((await calTablesValidAt(regs, 60951.0)).map((r) => r.group_id)).toEqual(['2025-10-02T20:30:00']);
    expect((await calTablesValidAt(regs, 60951.85)).map((r) => r.group_id)).toEqual(['2025-10-03T20:26:00', '2025-10-02T20:30:00']);
    expect((await calTablesValidAt(regs, 60990, 'bandpass')).map((r) => r.group_id)).toEqual(['2025-10-03T20:26:00']);
    expect(await calTablesValidAt(regs, 60990, 'gain')).toEqual([]);
    expect(await calTablesValidAt(regs, 60900)).toEqual([]);
    await expect(
      registerCalTable(regs, { path: path.dirname(bp1), groupId: '2025-10-02T20:30:00', tableType: 'bandpass', validStartMjd: 2, validEndMjd: 1 }),
    ).rejects.toThrow(/CHECK constraint/);
    await regs.close();
  });

  it('rewrites paths exactly: the path and what is below it, nothing that merely starts alike', async () => {
    const { layout, file } = setup();
    const regs = await openRegistries(layout);
    const names = ['x/b.ms/t', 'x/bc.ms/t', 'x/B.ms/t', 'x/b_ms/t', 'x/b%ms/t'];
    for (const n of names) {
      const p = path.dirname(file(n));
      await registerProduct(regs, { dataType: 'image', path: p, obsDate: parseUtcDate('2025-10-02') });
    }
    const base = path.join(layout.roots.stageBase, 'x');
    await registerIngest(regs, { path: file('x/b.ms/sub/in_sb00.hdf5'), groupId: '2025-10-02T00:00:00', subband: 0 });
    const n = await rewriteRegistryPaths(regs, path.join(base, 'b.ms'), '/new/b.ms');
    expect(n).toBe(2);
    const paths = (await registeredPaths(regs)).map((r) => r.path).sort();
    expect(paths).toEqual(['/new/b.ms', '/new/b.ms/sub/in_sb00.hdf5', ...['x/B.ms', 'x/b%ms', 'x/b_ms', 'x/bc.ms'].map((x) => path.join(layout.roots.stageBase, x))].sort());
    await regs.close();
  });
});
