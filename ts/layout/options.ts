/**
 * The command-line options every layout-aware command shares (migrate, publish; convert and
 * stream add `--layout` and `--calibrators`), so they are spelled and explained once.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CALIBRATORS_FILE } from './calibrators.js';
import { DEFAULT_DATA_BASE, DEFAULT_STAGE_BASE } from './roots.js';

export function layoutBaseOptions<T>(y: Argv<T>) {
  return y
    .option('stage-base', { type: 'string', describe: `Stage tree (SSD); overrides CONTIMG_STAGE_BASE and the stage's CONTIMG_*_DIR (default ${DEFAULT_STAGE_BASE})` })
    .option('data-base', { type: 'string', describe: `Data tree (HDD); overrides CONTIMG_DATA_BASE and CONTIMG_PUBLISHED_PRODUCTS_DIR (default ${DEFAULT_DATA_BASE})` });
}

/**
 * For writers (convert, stream): `--layout`, the bases and the calibrator list. Without any of
 * them (and without CONTIMG_STAGE_BASE) a writer keeps the flat `<output-dir>/<group>.ms` of
 * seed 000; ts/convert/output.ts decides which.
 */
export function layoutWriterOptions<T>(y: Argv<T>) {
  return layoutBaseOptions(y)
    .option('layout', {
      type: 'boolean',
      default: false,
      describe: 'Write the pipeline layout (raw/ms/{science,calibrators}/YYYY-MM-DD/<group>.ms, registered) instead of <output-dir>/<group>.ms; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE',
    })
    .option('calibrators', {
      type: 'string',
      default: DEFAULT_CALIBRATORS_FILE,
      describe: 'Calibrator list (CSV name,ra_deg,dec_deg,flux_jy): groups one passes through the beam of go to raw/ms/calibrators/',
    });
}
