/**
 * `contimg flag` crash safety: FLAG is replaced by exchanging the MS with a staged copy. A
 * SIGKILL at each fault point (CONTIMG_FLAG_FAULT) and at timed instants leaves FLAG exactly
 * as it was or exactly as an uninterrupted run writes it, and a rerun finishes the job with
 * the uninterrupted run's FLAG and no leftovers.
 */
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, oracle, tmpDir, runCli } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--antennas', '8', '--channels', '4', '--integrations', '12', '--seed', '11', '--rfi'];
let ms: string;
let oldHash: string;
let newHash: string;


function freshCopy(): string {
  const d = tmpDir();
  const c = path.join(d, path.basename(ms));
  cpSync(ms, c, { recursive: true });
  return c;
}

const hash = async (m: string): Promise<string> => (await oracle('flag_score.py', 'hash', m)).sha256;
const leftovers = (m: string) => readdirSync(path.dirname(m)).filter((f) => f !== path.basename(m));

beforeAll(async () => {
  const dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), ...SIM);
  ms = (await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'))).groups[0].outputMs;
  oldHash = await hash(ms);
  const ref = freshCopy();
  const r = await runCli(['flag', ref, '--json']);
  expect(r.code).toBe(0);
  newHash = await hash(ref);
  expect(newHash).not.toBe(oldHash);
}, 90_000);

describe('SIGKILL during flag', () => {
  it('at each fault point: FLAG is the old one or the new one, and a rerun completes', async () => {
    const expected = { staged: oldHash, written: oldHash, exchanged: newHash };
    for (const [point, want] of Object.entries(expected)) {
      const m = freshCopy();
      const r = await runCli(['flag', m, '--json'], { CONTIMG_FLAG_FAULT: point });
      expect(r.signal, point).toBe('SIGKILL');
      expect(await hash(m), point).toBe(want);
      // The staged copy (partial new state, or after the exchange the old one) is left...
      expect(leftovers(m).some((f) => f.includes('.flag-')), point).toBe(true);
      // ...and the rerun removes it and ends with the uninterrupted run's FLAG.
      const again = await runCli(['flag', m, '--json']);
      expect(again.code, point).toBe(0);
      expect(await hash(m), point).toBe(newHash);
      expect(leftovers(m), point).toEqual([]);
    }
  }, 120_000);

  it('at timed instants: old or new, never a mixture; a rerun completes', async () => {
    const probe = freshCopy();
    const full = await runCli(['flag', probe, '--json']);
    expect(full.code).toBe(0);
    for (const f of [0.2, 0.4, 0.6, 0.75, 0.9]) {
      const m = freshCopy();
      const r = await runCli(['flag', m, '--json'], {}, Math.round(f * full.ms));
      expect([oldHash, newHash], `kill at ${f}`).toContain(await hash(m));
      if (r.signal !== 'SIGKILL') continue;
      const again = await runCli(['flag', m, '--json']);
      expect(again.code).toBe(0);
      expect(await hash(m), `rerun after a kill at ${f}`).toBe(newHash);
      expect(leftovers(m)).toEqual([]);
    }
  }, 120_000);
});
