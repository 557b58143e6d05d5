import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';
import { commands } from '../../ts/cli/commands/index.js';
import { version } from '../../ts/version.js';

describe('the CLI as a function', () => {
  it('prints --version from package.json', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('has --help on every command', async () => {
    for (const c of commands) {
      const name = String(Array.isArray(c.command) ? c.command[0] : c.command).split(' ')[0]!;
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
});
