// Copies the screenshots the end-to-end suite took in a real workbench (.run/e2e-artifacts/) to
// where the README and the walkthrough show them. Run by `npm run screenshots` after the suite.
// The walkthrough's copies ship in the .vsix, so they are scaled to at most 960 px wide and re-encoded as JPEG.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const repo = path.resolve(__dirname, '..');
const artifacts = process.env.SCREENSHOTS_FROM ? path.resolve(process.env.SCREENSHOTS_FROM) : path.join(repo, '.run', 'e2e-artifacts');

/** Screenshot taken by the suite → where it is shown (.png copied as is, .jpg re-encoded). */
const destinations: Readonly<Record<string, readonly string[]>> = {
  'docs-report.png': ['docs/images/report.png', 'media/walkthrough/report.jpg'],
  'docs-alpha-orbit.png': ['docs/images/alpha-orbit.png', 'media/walkthrough/alpha-orbit.jpg'],
  'a-checkpoints-tree.png': ['media/walkthrough/checkpoints.jpg'],
  'c-provenance.png': ['media/walkthrough/provenance.jpg'],
  'docs-training-run.png': ['docs/images/training-run.png'],
};

async function main(): Promise<void> {
  const missing = Object.keys(destinations).filter((name) => !fs.existsSync(path.join(artifacts, name)));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing from .run/e2e-artifacts; run the end-to-end suite first (npm run test:e2e)`);
  const browser = await chromium.launch({ executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    for (const [name, targets] of Object.entries(destinations)) {
      const source = path.join(artifacts, name);
      for (const target of targets) {
        const file = path.join(repo, target);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        if (target.endsWith('.png')) fs.copyFileSync(source, file);
        else {
          await page.setContent(`<body style="margin:0"><img id="shot" style="display:block; max-width:960px" src="data:image/png;base64,${fs.readFileSync(source).toString('base64')}"></body>`);
          const shot = page.locator('#shot');
          await shot.waitFor();
          const box = await shot.boundingBox();
          await page.setViewportSize({ width: Math.ceil(box!.width), height: Math.ceil(box!.height) });
          await shot.screenshot({ path: file, type: 'jpeg', quality: 75 });
        }
        console.log(`screenshots: ${name} → ${target} (${(fs.statSync(file).size / 1024).toFixed(0)} KiB)`);
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(`screenshots: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
