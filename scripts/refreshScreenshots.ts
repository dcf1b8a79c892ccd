// Copies the screenshots the end-to-end suite took in a real workbench (.run/e2e-artifacts/) to
// where the README and the walkthrough show them. Run by `npm run screenshots` after the suite.
import * as fs from 'node:fs';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..');
const artifacts = path.join(repo, '.run', 'e2e-artifacts');

/** Screenshot taken by the suite → where it is shown. */
const destinations: Readonly<Record<string, readonly string[]>> = {
  'docs-report.png': ['docs/images/report.png', 'media/walkthrough/report.png'],
  'docs-alpha-orbit.png': ['docs/images/alpha-orbit.png', 'media/walkthrough/alpha-orbit.png'],
  'a-checkpoints-tree.png': ['media/walkthrough/checkpoints.png'],
  'c-provenance.png': ['media/walkthrough/provenance.png'],
  'c-rescale-result.png': ['media/walkthrough/compare.png'],
};

const missing = Object.keys(destinations).filter((name) => !fs.existsSync(path.join(artifacts, name)));
if (missing.length > 0) {
  console.error(`screenshots: ${missing.join(', ')} missing from .run/e2e-artifacts; run the end-to-end suite first (npm run test:e2e)`);
  process.exit(1);
}
for (const [name, targets] of Object.entries(destinations)) {
  for (const target of targets) {
    fs.mkdirSync(path.dirname(path.join(repo, target)), { recursive: true });
    fs.copyFileSync(path.join(artifacts, name), path.join(repo, target));
    console.log(`screenshots: ${name} → ${target}`);
  }
}
