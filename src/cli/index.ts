import { relaunchWithReusingAllocator, runsWithReusingAllocator } from '../engine/exec/reusingAllocator';
import { main } from './main';

const run = runsWithReusingAllocator() ? main(process.argv.slice(2)) : relaunchWithReusingAllocator();
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`flatness: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
