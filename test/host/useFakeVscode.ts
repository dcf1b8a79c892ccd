/**
 * Import first: makes `require('vscode')` resolve to the fake in ./fakeVscode for everything the
 * test loads after it (the real module exists only inside the editor).
 */
import Module from 'node:module';
import * as path from 'node:path';

const fake = path.join(__dirname, 'fakeVscode.ts');
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? fake : resolve.call(this, request, ...rest);
};
