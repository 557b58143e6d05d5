import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../ts/native.js';
import { projectRoot } from '../../ts/project-root.js';
import { cleanupTmpDirs, cli, cliJson, oracle, SMALL, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

let good: string;
beforeAll(async () => {
  const dir = tmpDir();
  const s = await cliJson('simulate', '--output-dir', dir, ...SMALL, '--subbands', '1', '--flag-fraction', '0.1');
  good = s.groups[0].files[0];
});

/** Our read of a file gives the bits and counts that pyuvdata's read gives (uvh5_read.py). */
function expectAsPyuvdata(ref: any): void {
  const name = path.basename(ref.file);
  const ours = native().uvh5Digest(ref.file);
  expect(ours.vis, name).toBe(ref.digest.vis);
  expect(ours.flags, name).toBe(ref.digest.flags);
  expect(ours.nsamples, name).toBe(ref.digest.nsamples);
  const h = native().inspectUvh5(ref.file);
  expect([h.nBlts, h.nBls, h.nTimes, h.nFreqs], name).toEqual([ref.nblts, ref.nbls, ref.ntimes, ref.nfreqs]);
}

describe('reading UVH5 that pyuvdata writes', () => {
  it('reads every variant with values identical to pyuvdata', async () => {
    const out = tmpDir();
    const variants = await oracle<Record<string, string>>('make_uvh5_variants.py', good, out);
    expect(Object.keys(variants).sort()).toEqual(
      ['current_c16', 'current_c8_chunked', 'current_c8_contiguous', 'gzip', 'int16', 'int32', 'legacy_phased', 'lzf', 'v11_json_catalog'].sort(),
    );
    for (const ref of await oracle<any[]>('uvh5_read.py', ...Object.values(variants))) expectAsPyuvdata(ref);
    const info = (n: string) => native().inspectUvh5(variants[n]!);
    expect(info('current_c16').version).toBe('1.2');
    expect(info('current_c16').layout.legacy_spw_axis).toBe(false);
    expect(info('current_c8_contiguous').layout.storage).toBe('contiguous');
    expect(info('current_c8_contiguous').layout.direct_read).toBe(true);
    expect(info('gzip').layout.direct_read).toBe(false);
    expect(info('int32').layout.vis_type).toBe('ComplexInt(4)');
    expect(info('legacy_phased').phasing.kind).toBe('phased');
    expect(info('v11_json_catalog').phasing.kind).toBe('catalog');
  });
});

describe('older UVH5 (version 0.1, written by pyuvdata 1.x for HERA)', () => {
  const v01 = path.join(projectRoot, 'test', 'data', 'pyuvdata', 'zen.2458098.45361.HH_downselected.uvh5');

  it('reads a real 0.1 file and its old-writer variants with the values pyuvdata reads', async () => {
    const variants = await oracle<Record<string, string>>('make_old_uvh5.py', v01, tmpDir());
    const files = [v01, variants.hera_nbls!, variants.vlen_strings!, variants.uncalib_phased!];
    for (const ref of await oracle<any[]>('uvh5_read.py', ...files)) expectAsPyuvdata(ref);
    expect(native().inspectUvh5(v01).version).toBe('0.1');
    expect(native().inspectUvh5(v01).telescope).toBe('HERA');
  });

  it('converts it end to end to a Measurement Set that matches pyuvdata', async () => {
    const out = tmpDir();
    const r = await cliJson('convert', v01, '--output-dir', out);
    expect(r.converted).toBe(1);
    const ms = r.groups[0].outputMs;
    // A HERA drift file: --input-phase auto reads it as pyuvdata does (no stored phase).
    expect(r.groups[0].inputPhase.phase).toBe('zero');
    const ref = await oracle<any>('convert_reference.py', ms, '--files', v01, '--input-phase', 'zero');
    expect(ref.rows).toBe(ref.expected_rows);
    expect(ref.rows).toBe(360);
    expect(ref.data_rel).toBeLessThan(1e-5);
    expect(ref.uvw_m).toBeLessThan(1e-3);
    for (const [k, v] of Object.entries(ref.equal)) expect(v, k).toBe(true);
  });
});

describe('bad input', () => {
  it('names the file, what is wrong and what was expected, with a stable code', async () => {
    const out = tmpDir();
    const bad = await oracle<Record<string, string>>('make_bad_uvh5.py', good, out);
    const expectations: Record<string, [string, RegExp]> = {
      missing_dataset: ['UVH5_MISSING_DATASET', /Data\/flags.*flags, shaped like visdata/],
      missing_key: ['UVH5_MISSING_KEY', /Header\/Nblts.*baseline-times/],
      bad_shape: ['UVH5_BAD_SHAPE', /Data\/visdata.*shape \[\d+, 1, 7, 2\].*expected.*Nfreqs/],
      inconsistent: ['UVH5_INCONSISTENT', /Ntimes is 5 but time_array holds 4 unique times/],
      bad_version: ['UVH5_UNSUPPORTED_VERSION', /'2\.0'.*0\.1 and 1\.0 to 1\.2/],
      negative_ntimes: ['UVH5_BAD_VALUE', /Header\/Ntimes = -3 is invalid \(expected a positive number of unique times\)/],
      zero_nblts: ['UVH5_BAD_VALUE', /Header\/Nblts = 0 is invalid \(expected a positive number of baseline-times\)/],
      negative_nfreqs: ['UVH5_BAD_VALUE', /Header\/Nfreqs = -48 is invalid/],
      huge_nfreqs: ['UVH5_BAD_VALUE', /Header\/Nfreqs = 4611686018427387904 is invalid.*overflows/],
      unstored_ant_array: ['UVH5_TRUNCATED', /Header\/ant_1_array has shape \[1099511627776\] \(8796093022208 bytes\) but the file stores only 0 bytes/],
      truncated: ['UVH5_TRUNCATED', /superblock records \d+ bytes but the file has \d+/],
      not_hdf5: ['UVH5_NOT_HDF5', /no HDF5 signature/],
    };
    expect(Object.keys(bad).sort()).toEqual(Object.keys(expectations).sort());
    for (const [fault, file] of Object.entries(bad)) {
      const [code, message] = expectations[fault]!;
      let caught: any;
      try {
        native().inspectUvh5(file);
      } catch (e) {
        caught = e;
      }
      expect(caught, fault).toBeDefined();
      expect(caught.code, fault).toBe(code);
      expect(caught.message, fault).toContain(file);
      expect(caught.message, fault).toMatch(message);
    }
  });

  it('a file that crashes libhdf5 is UVH5_CORRUPT naming it, and the process lives on', async () => {
    // NULL dereferences inside libhdf5 1.10 found by fuzzing: `contimg inspect` died of SIGSEGV
    // on these until libhdf5 first ran on each file in a forked child (crates/uvh5/src/isolate/).
    // As found, their Data group's local heap is not where its address says, which is now
    // refused before libhdf5 reads anything (crates/uvh5/src/localheap.rs); with that address
    // pointed at a valid heap (the root group's, at 680) libhdf5 crashes as before, in the child.
    const dir = tmpDir();
    for (const [name, heap, heapAddrAt] of [
      ['libhdf5-crash-925bdddd', 16600, 0x1e60],
      ['libhdf5-crash-91d1da18', 16272, 0x5d0],
    ] as const) {
      const file = path.join(projectRoot, 'fuzz', 'regressions', 'uvh5_file', name);
      const r = await cli('inspect', file);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toBe(`contimg: error [UVH5_CORRUPT]: ${file}: corrupt file: Data: corrupt local heap at address ${heap} (no local heap signature)\n`);
      const bytes = readFileSync(file);
      bytes.writeBigUInt64LE(680n, heapAddrAt);
      const patched = path.join(dir, name);
      writeFileSync(patched, bytes);
      const c = await cli('inspect', patched);
      expect(c.code, name).toBe(1);
      expect(c.stderr, name).toBe(
        `contimg: error [UVH5_CORRUPT]: ${patched}: corrupt file: libhdf5 crashed with signal 11 (SIGSEGV) opening it (in a separate process)\n`,
      );
    }
    // A good file still opens afterwards: the crash harmed nothing of this process's libhdf5.
    expect(native().inspectUvh5(good).nFreqs).toBeGreaterThan(0);
  });
});
