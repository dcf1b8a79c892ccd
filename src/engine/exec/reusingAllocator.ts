/**
 * The malloc settings the engine's processes run under. glibc's malloc serves blocks of 32 MB and
 * more from fresh mappings and unmaps them when they are freed, so every large array (one
 * Hessian-vector product of a ResNet-18 is 11 million floats, and ONNX Runtime's binding copies
 * each output into a new one) lands on pages the kernel must fault in one by one. On a virtual
 * machine that costs about 3 ms per MB: more than the arithmetic that fills the array. With
 * mappings off and a trim threshold of 1 GB, freed blocks stay in the heap and are handed out
 * again; at most 1 GB of freed memory is kept. Other C libraries ignore these variables. Under
 * these settings ONNX Runtime's sessions go without their own memory arenas
 * (src/engine/exec/onnxruntime/runtime.ts).
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';

export const reusingAllocatorEnvironment: Readonly<Record<string, string>> = {
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: String(1024 ** 3),
};

/** `env` with the reusing settings added (on Linux; a variable the user set keeps its value). */
export function withReusingAllocator(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return process.platform === 'linux' ? { ...reusingAllocatorEnvironment, ...env } : env;
}

/** Whether this process's malloc keeps freed blocks: on Linux, started with the settings. */
export function mallocReusesFreedBlocks(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.platform === 'linux' && Object.keys(reusingAllocatorEnvironment).every((name) => name in env);
}

/** Whether this process started with the settings, or runs where they do not apply. */
export function runsWithReusingAllocator(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.platform !== 'linux' || mallocReusesFreedBlocks(env);
}

/**
 * Runs this same command again in a child process that has the settings (malloc reads them once,
 * at start), with the terminal and the signals passed through; resolves to the child's exit status.
 */
export function relaunchWithReusingAllocator(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: withReusingAllocator(process.env) });
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of signals) process.on(signal, forward);
    child.on('error', (error) => {
      process.stderr.write(`flatness: could not start: ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
