import { relaunchWithReusingAllocator, runsWithReusingAllocator } from '../engine/exec/reusingAllocator';
import { main } from './main';

// Under a debugger the command runs as it is: a second process would not be the one attached.
const debugging = process.execArgv.some((flag) => flag.startsWith('--inspect'));
const run = runsWithReusingAllocator() || debugging ? main(process.argv.slice(2)) : relaunchWithReusingAllocator();
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`flatness: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
