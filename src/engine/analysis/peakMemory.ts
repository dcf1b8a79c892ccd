/** The process's peak resident memory so far, in bytes (`ru_maxrss`, which Node reports in KiB). */
export function peakResidentMemoryBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
