/**
 * Resuming across claims with the real converter (ts/convert/resume.ts): a conversion under claim
 * 1 stopped part-way leaves its own checkpoint and partial MS; the conversion under claim 2 copies
 * them to its own names, resumes from the checkpoint's row, removes claim 1's files and ends
 * byte-identical to an uninterrupted conversion. Claim 1's files are never written by claim 2, so
 * a claim-1 worker woken late cannot touch claim 2's MS.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointPathFor, checkpointTokens } from '../../ts/convert/resume.js';
import { convertJob } from '../../ts/convert/run.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertJob } from '../../ts/convert/types.js';
import { parseSubbandName } from '../../ts/groups.js';
import { native } from '../../ts/native.js';
import { realConverterAvailable } from '../../ts/stream/converter.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

describe.skipIf(!realConverterAvailable())('resuming a group under a later claim', () => {
  let group: { group: string; files: string[] };
  let reference: unknown;
  beforeAll(async () => {
    const dir = tmpDir('contimg-sim-');
    group = (await cliJson<{ groups: { group: string; files: string[] }[] }>('simulate', '--output-dir', dir, '--groups', '1', '--seed', '88', '--antennas', '16', '--channels', '8', '--integrations', '12')).groups[0]!;
    const ref = tmpDir();
    const r = await cli('convert', ...group.files, '--output-dir', ref, '--no-tmpfs', '--json');
    expect(r.code, r.stderr).toBe(0);
    reference = native().msDigest(path.join(ref, `${group.group}.ms`));
  }, 300_000);

  it('copies the earlier claim’s checkpoint and partial MS, resumes, and matches an uninterrupted conversion', async () => {
    const root = tmpDir();
    const checkpoints = path.join(root, 'checkpoints');
    const out = path.join(root, 'out');
    const job = (claimToken: number, local: string): ConvertJob => ({
      groupId: group.group,
      inputs: group.files.map((p) => {
        const n = parseSubbandName(p);
        if (!n.ok) throw new Error(n.reason);
        return { ...n.name, path: p };
      }),
      outputMs: path.join(out, `${group.group}.ms`),
      // Each claim builds in its own local directory (another host's scratch, say).
      staging: { tmpfsPath: path.join(root, local), mode: 'tmpfs', noTmpfs: false, keepTemp: false },
      checkpointDir: checkpoints,
      claimToken,
      overwrite: false,
      commandLine: 'test',
    });
    const opts = { ...DEFAULT_CONVERT_OPTIONS, chunkIntegrations: 1 };
    for (const local of ['host-a', 'host-b']) mkdirSync(path.join(root, local), { recursive: true });

    // Claim 1 stops after a few chunks have been written (its worker died or lost its lease).
    const abort = new AbortController();
    let written = 0;
    await expect(
      convertJob(job(1, 'host-a'), opts, {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.stage === 'write' && ++written === 4) abort.abort();
        },
      }),
    ).rejects.toThrow();
    expect(checkpointTokens(checkpoints, group.group)).toEqual([1]);
    const cp1 = JSON.parse(readFileSync(checkpointPathFor(checkpoints, group.group, 1), 'utf8')) as { ms_path: string; rows_done: number };
    expect(cp1.rows_done).toBeGreaterThan(0);
    expect(cp1.ms_path.startsWith(path.join(root, 'host-a'))).toBe(true);
    expect(existsSync(path.join(out, `${group.group}.ms`))).toBe(false);

    // Claim 2, on another host, takes it over.
    const r = await convertJob(job(2, 'host-b'), opts, {});
    expect(r.skipped).toBe(false);
    expect(r.resumedFromRow).toBe(cp1.rows_done);
    expect(native().msDigest(path.join(out, `${group.group}.ms`))).toEqual(reference);
    // Nothing of either claim is left: not claim 1's partial MS, not a checkpoint.
    expect(checkpointTokens(checkpoints, group.group)).toEqual([]);
    expect(existsSync(path.dirname(cp1.ms_path))).toBe(false);
    expect(readdirSync(path.join(root, 'host-b'))).toEqual([]);
  }, 300_000);
});
