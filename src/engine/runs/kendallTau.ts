/**
 * Kendall's rank correlation τ-b between two paired samples: (concordant − discordant pairs) over
 * √((n₀ − n₁)(n₀ − n₂)), where n₀ = n(n−1)/2 and n₁, n₂ count the pairs tied in x and in y
 * (Kendall 1945; the variant scipy.stats.kendalltau computes by default). Jiang et al. 2020,
 * "Fantastic Generalization Measures and Where to Find Them", rank measures against the
 * generalization gap with it. Pairs with a non-finite value are left out. Null when fewer than two
 * pairs remain or either sample is constant.
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new Error(`kendallTauB: samples of different lengths (${x.length} and ${y.length})`);
  const pairs: [number, number][] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i])) pairs.push([x[i], y[i]]);
  const n = pairs.length;
  if (n < 2) return null;
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(pairs[i][0] - pairs[j][0]);
      const dy = Math.sign(pairs[i][1] - pairs[j][1]);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const total = (n * (n - 1)) / 2;
  const denominator = Math.sqrt((total - tiedX) * (total - tiedY));
  return denominator === 0 ? null : (concordant - discordant) / denominator;
}
