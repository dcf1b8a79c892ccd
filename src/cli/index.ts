import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`flatness: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
