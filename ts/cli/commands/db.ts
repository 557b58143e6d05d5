/**
 * `contimg db migrate` and `contimg db copy` (issue 14): the queue and the four registries as one
 * installation, on SQLite (the default) or PostgreSQL.
 *
 * An installation is named the way `--db` names the queue: `postgres://…` for PostgreSQL (every
 * database a schema of that server database), or `sqlite:` for SQLite, where `sqlite:FILE` names
 * the queue file (plain `sqlite:` means `--queue-db`) and the registries are those of the layout
 * (`--stage-base`/`--data-base`, or the CONTIMG_* variables, as every layout command reads them).
 */
import { ContimgError } from '../../error.js';
import { DATABASE_URL_ENV, describeTarget, parseDbTarget, resolveDbTarget } from '../../db/target.js';
import { layoutBaseOptions, openLayout } from '../../layout/index.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { queueDbOptions } from './stream.js';
import type { Installation } from '../../db/copy.js';

function installation(spec: string, a: { 'queue-db': string; 'stage-base'?: string; 'data-base'?: string }): Installation {
  // `sqlite:` alone names no file: the queue is then --queue-db.
  const target = /^sqlite:(\/\/)?$/i.test(spec) ? parseDbTarget(a['queue-db']) : parseDbTarget(spec);
  if (target.kind === 'postgres') return { kind: 'postgres', url: target.url };
  return { kind: 'sqlite', queueFile: target.file, layout: openLayout({ stageBase: a['stage-base'], dataBase: a['data-base'] }) };
}

export const dbCommand = defineCommand({
  command: 'db <action>',
  describe: 'The queue and registries as one installation: migrate it, or copy it between SQLite and PostgreSQL',
  builder: (y) =>
    layoutBaseOptions(queueDbOptions(y))
      .positional('action', {
        choices: ['migrate', 'copy'] as const,
        demandOption: true,
        describe: `migrate: create and migrate every database on --db (default ${DATABASE_URL_ENV}, else SQLite); copy: move every row from --from to --to`,
      })
      .option('from', { type: 'string', describe: 'copy: the source installation, postgres://… or sqlite:[QUEUE_FILE] (registries from the layout options)' })
      .option('to', { type: 'string', describe: 'copy: the destination installation (must be empty or new), postgres://… or sqlite:[QUEUE_FILE]' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .check((a) => {
        if (a.action === 'copy' && (!a.from || !a.to)) throw new Error('db copy needs --from and --to');
        if (a.action === 'migrate' && (a.from || a.to)) throw new Error('--from and --to are for db copy; db migrate takes --db');
        return true;
      }),
  async run(a, { io }) {
    const { copyInstallation, describeInstallation, migrateInstallation } = await import('../../db/copy.js');
    if (a.action === 'migrate') {
      const target = resolveDbTarget(a.db, a['queue-db']);
      const inst = installation(target.kind === 'postgres' ? target.url : `sqlite:${target.file}`, a);
      const databases = await migrateInstallation(inst);
      report(io, a.json, { target: describeTarget(target), databases }, () =>
        [`Migrated ${describeInstallation(inst)}:`, ...databases.map((d) => `  ${d.name.padEnd(14)} ${d.version}  (${d.where})`)].join('\n') + '\n',
      );
      return 0;
    }
    const from = installation(a.from!, a);
    const to = installation(a.to!, a);
    if (from.kind === 'sqlite' && to.kind === 'sqlite') throw new ContimgError('DB_COPY_USAGE', 'both sides are SQLite: copy the files instead');
    const databases = await copyInstallation(from, to);
    const rows = databases.reduce((n, d) => n + d.tables.reduce((m, t) => m + t.destination, 0), 0);
    report(io, a.json, { from: describeInstallation(from), to: describeInstallation(to), rows, databases }, () => {
      const lines = [`Copied ${rows} row(s) from ${describeInstallation(from)} to ${describeInstallation(to)}; counts and checksums match:`];
      for (const d of databases) {
        lines.push(`  ${d.name}${d.present ? '' : ' (absent in the source: empty)'}`);
        for (const t of d.tables) lines.push(`    ${t.table.padEnd(20)} ${String(t.destination).padStart(8)}  ${t.checksum}`);
      }
      return lines.join('\n') + '\n';
    });
    return 0;
  },
});
