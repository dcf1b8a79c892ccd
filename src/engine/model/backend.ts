import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerSecondOrderGradients } from './secondOrderGradients';
import { registerFastWasmSlice } from './wasmSlice';
import type { BackendChoice } from '../../protocol/requests';

export interface BackendInfo {
  readonly name: string;
  /** Why this backend was chosen, or why a better one was not. */
  readonly note: string;
}

let ready: Promise<BackendInfo> | undefined;

/**
 * Picks the fastest backend available: tfjs-node (`tensorflow`) when the user has it installed next
 * to us, else WebAssembly (its .wasm files ship inside the npm package and beside our bundles), else
 * the pure-JS cpu backend. Idempotent; every entry point awaits it before any tensor math.
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  ready ??= selectBackend(choice);
  return ready;
}

async function selectBackend(choice: BackendChoice): Promise<BackendInfo> {
  tf.env().set('PROD', true);
  registerSecondOrderGradients();
  const notes: string[] = [];
  if (choice === 'auto' || choice === 'tensorflow') {
    const loaded = tryTfjsNode();
    if (loaded === true && (await tf.setBackend('tensorflow'))) {
      return { name: 'tensorflow', note: 'tfjs-node found' };
    }
    notes.push(loaded === true ? 'tfjs-node did not register with this engine' : loaded);
  }
  if (choice !== 'cpu') {
    const wasmDir = findWasmDir();
    if (wasmDir) {
      setWasmPaths(wasmDir + path.sep);
      if (await tf.setBackend('wasm').catch(() => false)) {
        registerFastWasmSlice();
        return { name: 'wasm', note: notes.join('; ') };
      }
      notes.push('wasm backend failed to start');
    } else {
      notes.push('wasm binaries not found');
    }
  }
  await tf.setBackend('cpu');
  return { name: 'cpu', note: notes.join('; ') };
}

function tryTfjsNode(): true | string {
  try {
    // A computed name keeps bundlers from trying to include the native addon.
    const moduleName = ['@tensorflow', 'tfjs-node'].join('/');
    require(moduleName);
    return true;
  } catch {
    return 'tfjs-node not installed';
  }
}

const wasmFile = 'tfjs-backend-wasm-simd.wasm';

function findWasmDir(): string | undefined {
  const candidates = [__dirname, path.join(__dirname, '..'), path.join(__dirname, 'wasm')];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'));
  } catch {
    // bundled: the package is not resolvable, the files sit beside the bundle
  }
  return candidates.find((dir) => fs.existsSync(path.join(dir, wasmFile)));
}
