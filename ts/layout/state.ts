/**
 * The layout state persisted in the data tree (`<data>/state/layout.json`): which paths the
 * pipeline writes to right now. `contimg migrate` changes it at the end of phases 1 and 2 (and
 * their rollbacks); every writer (convert, stream) reads it when it resolves the layout.
 *
 * No file means a fresh installation without a legacy tree: write the new layout.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import { atomicWriteFile } from './fsops.js';

/**
 * - `new`: products go to the new layout only (after phase 2, or a fresh installation).
 * - `dual-write`: products go to the new layout and a symlink at the legacy path points at them,
 *   so legacy readers still find them (phase 1).
 * - `legacy`: products go to the legacy layout (phase 1 rolled back).
 */
export type WriteMode = 'new' | 'dual-write' | 'legacy';
export const WRITE_MODES: readonly WriteMode[] = ['new', 'dual-write', 'legacy'];

export interface LayoutState {
  version: 1;
  writeMode: WriteMode;
  /** The legacy tree the migration works on (usually the stage base itself). */
  legacyBase: string;
  updatedAt: string;
  /** What set it (the command line), for operators reading the file. */
  setBy: string;
}

export const LAYOUT_STATE_FILE = 'layout.json';

export function layoutStatePath(dataBase: string): string {
  return path.join(dataBase, 'state', LAYOUT_STATE_FILE);
}

export function readLayoutState(dataBase: string): LayoutState | null {
  const file = layoutStatePath(dataBase);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ContimgError('LAYOUT_STATE', `${file}: cannot read the layout state (${(e as Error).message})`);
  }
  let s: Partial<LayoutState>;
  try {
    s = JSON.parse(text) as Partial<LayoutState>;
  } catch (e) {
    throw new ContimgError('LAYOUT_STATE', `${file}: not valid JSON (${(e as Error).message})`);
  }
  if (s.version !== 1 || !WRITE_MODES.includes(s.writeMode as WriteMode) || typeof s.legacyBase !== 'string' || !path.isAbsolute(s.legacyBase)) {
    throw new ContimgError(
      'LAYOUT_STATE',
      `${file}: expected {"version": 1, "writeMode": ${WRITE_MODES.map((m) => `"${m}"`).join('|')}, "legacyBase": <absolute path>, …}`,
    );
  }
  return s as LayoutState;
}

export function writeLayoutState(dataBase: string, state: Omit<LayoutState, 'version' | 'updatedAt'>): LayoutState {
  const full: LayoutState = { version: 1, ...state, updatedAt: new Date().toISOString() };
  atomicWriteFile(layoutStatePath(dataBase), JSON.stringify(full, null, 2) + '\n');
  return full;
}
