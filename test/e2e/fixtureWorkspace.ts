import * as fs from 'node:fs';
import * as path from 'node:path';

/** The workspace the end-to-end scenarios open, built from the repository's example. */
export interface FixtureWorkspace {
  readonly root: string;
  /** examples/digits-mlp/model.json: the trained example with its data set. */
  readonly example: string;
  readonly exampleData: string;
  /** broken/model.json: the example's topology with its weight shard cut to 100 bytes. */
  readonly broken: string;
  /** weights/state.pt: a PyTorch state dict (an MLP 64-32-10), without its architecture. */
  readonly stateDict: string;
  /** The description of that MLP, to copy next to it as weights/state.architecture.json. */
  readonly stateDictArchitecture: string;
  readonly settingsFile: string;
}

export const workspaceSettings = {
  'flatnessLens.dataSets': { 'examples/digits-mlp/model.json': 'examples/digits-mlp/digits.csv.gz', 'weights/': 'data-free' },
  'flatnessLens.seed': 0,
  'flatnessLens.samples': 400,
  'security.workspace.trust.enabled': false,
};

export function buildFixtureWorkspace(repo: string, root: string): FixtureWorkspace {
  const source = path.join(repo, 'examples', 'digits-mlp');
  const exampleDir = path.join(root, 'examples', 'digits-mlp');
  const brokenDir = path.join(root, 'broken');
  const vscodeDir = path.join(root, '.vscode');
  const weightsDir = path.join(root, 'weights');
  for (const dir of [exampleDir, brokenDir, vscodeDir, weightsDir]) fs.mkdirSync(dir, { recursive: true });
  const weightFixtures = path.join(repo, 'test', 'fixtures', 'weights');
  fs.copyFileSync(path.join(weightFixtures, 'mlp.pt'), path.join(weightsDir, 'state.pt'));
  for (const file of ['model.json', 'model.weights.bin', 'digits.csv.gz']) {
    const from = path.join(source, file);
    if (!fs.existsSync(from)) throw new Error(`fixture: ${from} is missing (the repository's example)`);
    fs.copyFileSync(from, path.join(exampleDir, file));
  }
  fs.copyFileSync(path.join(source, 'model.json'), path.join(brokenDir, 'model.json'));
  fs.writeFileSync(path.join(brokenDir, 'model.weights.bin'), fs.readFileSync(path.join(source, 'model.weights.bin')).subarray(0, 100));
  const settingsFile = path.join(vscodeDir, 'settings.json');
  writeWorkspaceSettings(settingsFile, {});
  return {
    root,
    example: path.join(exampleDir, 'model.json'),
    exampleData: path.join(exampleDir, 'digits.csv.gz'),
    broken: path.join(brokenDir, 'model.json'),
    stateDict: path.join(weightsDir, 'state.pt'),
    stateDictArchitecture: path.join(weightFixtures, 'mlp.architecture.json'),
    settingsFile,
  };
}

/** Writes the fixture's settings plus `extra` (a scenario's temporary overrides). */
export function writeWorkspaceSettings(file: string, extra: Record<string, unknown>): void {
  fs.writeFileSync(file, JSON.stringify({ ...workspaceSettings, ...extra }, null, 2) + '\n');
}
