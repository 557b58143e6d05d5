import type { Argv } from 'yargs';
import type { Io } from './io.js';

/** What every command gets besides its parsed arguments. */
export interface Context {
  io: Io;
  /** The command line as typed, for HISTORY records and logs. */
  commandLine: string;
}

/** A CLI command: yargs options plus a handler that returns the process exit code. */
export interface Command<A = Record<string, unknown>> {
  command: string | string[];
  describe: string;
  builder: (y: Argv) => Argv<A>;
  run: (args: A, ctx: Context) => Promise<number>;
}

/** The parsed arguments of a yargs builder function, as yargs infers them from its options. */
export type ArgsOf<B extends (y: Argv<any>) => Argv<any>> = ReturnType<B> extends Argv<infer A> ? A : never;

/** Type-erased form for the command table. */
export type AnyCommand = Command<any>;

export function defineCommand<A>(c: Command<A>): Command<A> {
  return c;
}
