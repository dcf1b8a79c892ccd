import * as fs from 'node:fs';

/**
 * The process's peak resident memory so far, in bytes. On Linux this is VmHWM, the high-water mark
 * of this address space: `ru_maxrss` also counts the parent's resident memory at the fork that
 * started us (an analyzer process forked from a large extension host would report the host's).
 * Elsewhere `ru_maxrss` (which Node reports in KiB).
 */
export function peakResidentMemoryBytes(): number {
  if (process.platform === 'linux') {
    try {
      const match = /^VmHWM:\s*(\d+)\s*kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      if (match) return Number(match[1]) * 1024;
    } catch {
      // /proc not mounted: fall through.
    }
  }
  return process.resourceUsage().maxRSS * 1024;
}
