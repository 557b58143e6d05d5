import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { COMMANDS } from '../../ts/cli/commands/index.js';
import { version } from '../../ts/version.js';

describe('the CLI as a function', () => {
  it('prints --version from package.json', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('has --help on every command', async () => {
    for (const entry of COMMANDS) {
      const c = await entry.load();
      const name = String(Array.isArray(c.command) ? c.command[0] : c.command).split(' ')[0]!;
      // The table's name is the one the command itself declares.
      expect(entry.name).toBe(name);
      const r = await cli(name, '--help');
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toContain(`contimg ${name}`);
      expect(r.stdout, name).toContain('--help');
    }
  });

  it('rejects unknown commands and options with exit code 2 and a message', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown argument|Did you mean/);
    const r2 = await cli('simulate');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('output-dir');
  });

  it('reports a runtime failure with its code and exit status 1', async () => {
    const r = await cli('inspect', '/nonexistent/path.hdf5');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[NOT_FOUND]');
    expect(r.stderr).toContain('/nonexistent/path.hdf5');
  });

  it('keeps every file of a variadic positional, while a repeated option takes its last value', async () => {
    const dir = tmpDir();
    await cliJson('simulate', '--output-dir', dir, '--groups', '2', '--subbands', '1', '--antennas', '4', '--antennas', '5', '--channels', '8', '--integrations', '2');
    const files = readdirSync(dir).filter((f) => f.endsWith('.hdf5')).sort().map((f) => path.join(dir, f));
    expect(files).toHaveLength(2);
    const plan = await cliJson('convert', ...files, '--output-dir', path.join(dir, 'o'), '--expected-subbands', '1', '--dry-run');
    expect(plan.groups.map((g: { inputs: string[] }) => g.inputs[0])).toEqual(files);
    const info = await cliJson('inspect', files[0]!);
    expect(info.antennas).toHaveLength(5);
  });
});

afterAll(cleanupTmpDirs);
