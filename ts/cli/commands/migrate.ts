/**
 * `contimg migrate plan|run|status|verify|rollback`: moving a legacy stage tree (DESIGN.md §5) to
 * the pipeline layout of seed 004 in four resumable phases (ts/migrate).
 */
import { Listr } from 'listr2';
import { layoutBaseOptions, openLayout } from '../../layout/index.js';
import type { MigrationPlan, MigrationStatus, PhaseOutcome, Verification } from '../../migrate/index.js';
import { parsePhase } from '../../migrate/phase-number.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { bar } from '../progress.js';

const ACTIONS = ['plan', 'run', 'status', 'verify', 'rollback'] as const;

export const migrateCommand = defineCommand({
  command: 'migrate <action>',
  describe: 'Move a legacy stage tree to the pipeline layout, in four resumable phases',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('action', {
          choices: ACTIONS,
          demandOption: true,
          describe: 'plan: what every phase would do, file by file (dry run); run/rollback --phase N; status; verify',
        })
        .option('phase', { type: 'number', describe: 'The phase to run or roll back (1-4; rollback: 1-3)' })
        .option('legacy-base', { type: 'string', describe: 'Where the legacy tree is (default: the one recorded by phase 1, else the stage base)' })
        .option('items', { type: 'boolean', default: false, describe: 'status: list every action with its progress' })
        .option('checksums', { type: 'boolean', default: false, describe: 'verify: also recompute every registered checksum (reads all the data)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
    ).check((a) => {
      if ((a.action === 'run' || a.action === 'rollback') && a.phase === undefined) throw new Error(`migrate ${a.action} needs --phase N`);
      if (a.phase !== undefined) parsePhase(a.phase);
      return true;
    }),
  async run(a, { io, commandLine }) {
    const layout = openLayout({ stageBase: a['stage-base'], dataBase: a['data-base'], legacyBase: a['legacy-base'] });
    const writing = a.action === 'run' || a.action === 'rollback';
    const { Migration, PHASE_TITLES } = await import('../../migrate/index.js');
    const m = await Migration.open({ layout, mode: writing ? 'write' : 'read', setBy: commandLine });
    try {
      switch (a.action) {
        case 'plan': {
          const plan = await m.plan();
          report(io, a.json, plan, () => formatPlan(plan));
          return 0;
        }
        case 'status': {
          const s = await m.status({ items: a.items });
          report(io, a.json, s, () => formatStatus(s));
          return 0;
        }
        case 'verify': {
          const v = await m.verify({ checksums: a.checksums });
          report(io, a.json, v, () => formatVerification(v));
          return v.ok ? 0 : 1;
        }
        case 'run':
        case 'rollback': {
          const phase = parsePhase(a.phase);
          const verb = a.action === 'run' ? 'phase' : 'rollback of phase';
          let outcome: PhaseOutcome | undefined;
          await new Listr(
            [
              {
                title: `${verb} ${phase}: ${PHASE_TITLES[phase]}`,
                task: async (_ctx: unknown, task: { output: string; title: string }) => {
                  const onProgress = (p: { done: number; total: number; current: string }) => {
                    task.output = `${bar(p.done / Math.max(1, p.total))} ${p.done}/${p.total} ${p.current}`;
                  };
                  outcome = a.action === 'run' ? await m.run(phase, onProgress) : await m.rollback(phase, onProgress);
                },
              },
            ],
            { renderer: io.isTTY && !a.json ? 'default' : 'silent', exitOnError: true },
          ).run();
          report(io, a.json, outcome, () => formatOutcome(outcome!));
          return 0;
        }
      }
    } finally {
      await m.close();
    }
  },
});

function formatOutcome(o: PhaseOutcome): string {
  const what = o.direction === 'forward' ? `phase ${o.phase}` : `rollback of phase ${o.phase}`;
  if (o.alreadyDone) return o.direction === 'forward' ? `${what}: already done\n` : `${what}: phase ${o.phase} has not run; nothing to roll back\n`;
  let s = `${what}: done, ${o.actions} action(s)${o.resumed ? ' (resumed)' : ''}\n`;
  if (o.verification) s += formatVerification(o.verification);
  return s;
}

function formatPlan(p: MigrationPlan): string {
  const lines: string[] = [];
  lines.push('Where legacy things go:');
  for (const r of p.mapping) lines.push(`  ${r.legacy}\n      → ${r.destination}`);
  lines.push('', `stage base ${p.bases.stageBase}, data base ${p.bases.dataBase}, legacy base ${p.bases.legacyBase}; writers now write: ${p.writeMode}`);
  for (const ph of p.phases) {
    const src = ph.source === 'predicted' ? 'would do' : ph.source === 'rollback' ? 'rolling back' : 'decided';
    lines.push('', `Phase ${ph.phase} — ${ph.title} [${ph.status}; ${src}]:`);
    if (ph.actions.length === 0) lines.push('  (nothing)');
    for (const a of ph.actions) lines.push(`  ${a.state === 'done' ? '✓ ' : a.state ? '… ' : ''}${a.description}`);
    for (const pr of ph.problems) lines.push(`  ✗ ${pr}`);
  }
  if (p.ignored.length) lines.push('', 'Left alone (not part of the legacy layout):', ...p.ignored.map((i) => `  ${i}`));
  return lines.join('\n') + '\n';
}

function formatStatus(s: MigrationStatus): string {
  const lines = [`stage base ${s.bases.stageBase}, data base ${s.bases.dataBase}, legacy base ${s.bases.legacyBase}`, `writers now write: ${s.writeMode}`];
  for (const ph of s.phases) {
    const c = ph.actions;
    let line = `phase ${ph.phase} ${ph.status.padEnd(12)} ${String(c.done).padStart(5)}/${c.total} actions done`;
    if (ph.rollback) line += `; rollback ${ph.rollback.done}/${ph.rollback.total}`;
    if (ph.verification) line += `; verification ${ph.verification.ok ? 'passed' : `FAILED (${ph.verification.problems.length} problems)`}`;
    lines.push(line);
    for (const it of ph.items ?? []) lines.push(`    ${it.state === 'done' ? '✓' : it.state === 'verified' ? '≈' : '·'} ${it.description}`);
  }
  lines.push(s.next ? `next: ${s.next}` : 'the migration is complete');
  return lines.join('\n') + '\n';
}

function formatVerification(v: Verification): string {
  const lines = [
    v.ok
      ? `verification passed: ${v.counts.registeredPaths} registered paths, ${v.counts.symlinks} symlinks, ${v.counts.legacyDatabases} old registries checked${v.counts.checksumsChecked ? `, ${v.counts.checksumsChecked} checksums recomputed` : ''}`
      : `verification FAILED (${v.problems.length} problem(s)):`,
    ...v.problems.map((p) => `  ✗ ${p}`),
    ...v.warnings.map((w) => `  ! ${w}`),
  ];
  return lines.join('\n') + '\n';
}

