/**
 * Test reference only: hyper-dual numbers a + b·ε1 + c·ε2 + d·ε1ε2 with ε1² = ε2² = 0, in float64.
 *
 * Seeding θ_i with ε1 and θ_j with ε2 makes the ε1ε2 part of f(θ) exactly ∂²f/∂θ_i∂θ_j (no
 * truncation error) and the ε1 part ∂f/∂θ_i. Constants are plain `number`s, so the (vast) part of a
 * network evaluation that does not depend on the two seeded parameters stays ordinary float64
 * arithmetic; a `HyperDual` only appears downstream of a seeded parameter.
 */

export class HyperDual {
  constructor(
    readonly re: number,
    readonly e1: number,
    readonly e2: number,
    readonly e12: number,
  ) {}
}

/** A scalar in the reference evaluator: a constant, or a hyper-dual number. */
export type Num = number | HyperDual;

export function realPart(x: Num): number {
  return typeof x === 'number' ? x : x.re;
}

export function epsilon1Part(x: Num): number {
  return typeof x === 'number' ? 0 : x.e1;
}

export function epsilon2Part(x: Num): number {
  return typeof x === 'number' ? 0 : x.e2;
}

export function epsilon12Part(x: Num): number {
  return typeof x === 'number' ? 0 : x.e12;
}

export function add(a: Num, b: Num): Num {
  if (typeof a === 'number') {
    if (typeof b === 'number') return a + b;
    return new HyperDual(a + b.re, b.e1, b.e2, b.e12);
  }
  if (typeof b === 'number') return new HyperDual(a.re + b, a.e1, a.e2, a.e12);
  return new HyperDual(a.re + b.re, a.e1 + b.e1, a.e2 + b.e2, a.e12 + b.e12);
}

export function neg(a: Num): Num {
  return typeof a === 'number' ? -a : new HyperDual(-a.re, -a.e1, -a.e2, -a.e12);
}

export function sub(a: Num, b: Num): Num {
  return add(a, neg(b));
}

export function mul(a: Num, b: Num): Num {
  if (typeof a === 'number') {
    if (typeof b === 'number') return a * b;
    return new HyperDual(a * b.re, a * b.e1, a * b.e2, a * b.e12);
  }
  if (typeof b === 'number') return new HyperDual(a.re * b, a.e1 * b, a.e2 * b, a.e12 * b);
  return new HyperDual(
    a.re * b.re,
    a.re * b.e1 + a.e1 * b.re,
    a.re * b.e2 + a.e2 * b.re,
    a.re * b.e12 + a.e1 * b.e2 + a.e2 * b.e1 + a.e12 * b.re,
  );
}

/**
 * f(x) for a twice-differentiable scalar f, given f, f′ and f″ at the real part of x. This is the
 * exact chain rule for hyper-duals: f(a + bε1 + cε2 + dε1ε2) = f(a) + f′(a)(bε1 + cε2 + dε1ε2) + f″(a)·bc·ε1ε2.
 */
export function applyScalarFunction(x: Num, value: number, firstDerivative: number, secondDerivative: number): Num {
  if (typeof x === 'number') return value;
  return new HyperDual(
    value,
    firstDerivative * x.e1,
    firstDerivative * x.e2,
    firstDerivative * x.e12 + secondDerivative * x.e1 * x.e2,
  );
}

export function reciprocal(x: Num): Num {
  const a = realPart(x);
  if (typeof x === 'number') return 1 / a;
  return applyScalarFunction(x, 1 / a, -1 / (a * a), 2 / (a * a * a));
}

export function div(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a / b;
  return mul(a, reciprocal(b));
}

export function exp(x: Num): Num {
  const value = Math.exp(realPart(x));
  return applyScalarFunction(x, value, value, value);
}

export function log(x: Num): Num {
  const a = realPart(x);
  return applyScalarFunction(x, Math.log(a), 1 / a, -1 / (a * a));
}

export function sqrt(x: Num): Num {
  const root = Math.sqrt(realPart(x));
  return applyScalarFunction(x, root, 0.5 / root, -0.25 / (root * root * root));
}

export function tanh(x: Num): Num {
  const t = Math.tanh(realPart(x));
  const slope = 1 - t * t;
  return applyScalarFunction(x, t, slope, -2 * t * slope);
}

/**
 * The error function in float64: its Maclaurin series below |x| = 2.5 (cancellation costs at most
 * two digits there), the continued fraction of erfc above.
 */
export function erfValue(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = e^{−a²}/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), evaluated from the tail.
  let fraction = a;
  for (let k = 120; k >= 1; k--) fraction = a + k / 2 / fraction;
  const complement = Math.exp(-a * a) / (Math.sqrt(Math.PI) * fraction);
  return Math.sign(x) * (1 - complement);
}

/** erf, with erf′(x) = 2/√π · e^{−x²} and erf″(x) = −2x · erf′(x). */
export function erf(x: Num): Num {
  const a = realPart(x);
  const slope = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a);
  return applyScalarFunction(x, erfValue(a), slope, -2 * a * slope);
}

/** Logistic sigmoid, computed without overflow for large |x|. */
export function sigmoid(x: Num): Num {
  const a = realPart(x);
  const s = a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
  const slope = s * (1 - s);
  return applyScalarFunction(x, s, slope, slope * (1 - 2 * s));
}

/** log(1 + eˣ), computed without overflow; its derivatives are σ(x) and σ(x)(1 − σ(x)). */
export function softplus(x: Num): Num {
  const a = realPart(x);
  const value = Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
  const s = a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
  return applyScalarFunction(x, value, s, s * (1 - s));
}

/** Whether a > b, comparing real parts (the branch a piecewise function takes at this point). */
export function greaterThan(a: Num, b: Num): boolean {
  return realPart(a) > realPart(b);
}

/** The larger of a and b by real part; a on ties. */
export function maxByRealPart(a: Num, b: Num): Num {
  return realPart(b) > realPart(a) ? b : a;
}

/** The smaller of a and b by real part; a on ties. */
export function minByRealPart(a: Num, b: Num): Num {
  return realPart(b) < realPart(a) ? b : a;
}

/**
 * A running sum that stays a plain number until a hyper-dual term arrives, without allocating a
 * new object per term (sums over a layer's inputs are where the evaluator spends its time).
 */
export class SumAccumulator {
  private re = 0;
  private e1 = 0;
  private e2 = 0;
  private e12 = 0;
  private isDual = false;

  constructor(initial: Num = 0) {
    this.add(initial);
  }

  add(x: Num): void {
    if (typeof x === 'number') {
      this.re += x;
      return;
    }
    this.isDual = true;
    this.re += x.re;
    this.e1 += x.e1;
    this.e2 += x.e2;
    this.e12 += x.e12;
  }

  addProduct(a: Num, b: Num): void {
    if (typeof a === 'number') {
      if (typeof b === 'number') {
        this.re += a * b;
        return;
      }
      this.isDual = true;
      this.re += a * b.re;
      this.e1 += a * b.e1;
      this.e2 += a * b.e2;
      this.e12 += a * b.e12;
      return;
    }
    this.isDual = true;
    if (typeof b === 'number') {
      this.re += a.re * b;
      this.e1 += a.e1 * b;
      this.e2 += a.e2 * b;
      this.e12 += a.e12 * b;
      return;
    }
    this.re += a.re * b.re;
    this.e1 += a.re * b.e1 + a.e1 * b.re;
    this.e2 += a.re * b.e2 + a.e2 * b.re;
    this.e12 += a.re * b.e12 + a.e1 * b.e2 + a.e2 * b.e1 + a.e12 * b.re;
  }

  result(): Num {
    return this.isDual ? new HyperDual(this.re, this.e1, this.e2, this.e12) : this.re;
  }
}
