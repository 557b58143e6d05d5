/**
 * A progress line for long native jobs: an updating bar on a terminal (ora), and nothing
 * but the final summary otherwise (logs and CI output stay clean).
 */
import ora, { type Ora } from 'ora';
import type { Io } from './io.js';

export interface ProgressBar {
  update(fraction: number, detail: string): void;
  succeed(text: string): void;
  fail(text: string): void;
}

const WIDTH = 30;

export function bar(fraction: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * WIDTH);
  return `[${'█'.repeat(full)}${'░'.repeat(WIDTH - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

export function progressBar(io: Io, title: string, enabled = io.isTTY): ProgressBar {
  if (!enabled) {
    return { update() {}, succeed() {}, fail() {} };
  }
  const spinner: Ora = ora({ text: title, stream: process.stderr }).start();
  return {
    update(fraction, detail) {
      spinner.text = `${title} ${bar(fraction)} ${detail}`;
    },
    succeed(text) {
      spinner.succeed(text);
    },
    fail(text) {
      spinner.fail(text);
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v >= 100 || u === 0 ? 0 : 1)} ${units[u]}`;
}
