"""Derive the constants of adcore/special.py (erf and erfc) in high-precision arithmetic.

This script imports mpmath (``pip install mpmath``). It is needed here only, to derive the
constants: adcore.special depends on numpy and math alone, and holds the tables this script
prints, pasted in.

What is derived (adcore/special.py explains how the pieces are put together):

* P, for |x| < 1/2: erf(x) = x + x P(x²), where P(t) = erf(√t)/√t - 1 is a polynomial of degree
  SMALL_DEGREE in t on [0, 1/4].
* R, for 1/2 ≤ x < 28: erfc(x) = exp(-x²) R(x), where R(x) = exp(x²) erfc(x) (the scaled
  complementary error function, erfcx) is a polynomial of degree TAIL_DEGREE in u = x - c on each
  of 46 intervals: each binade [2^e, 2^(e+1)), e = -1 ... 4, is cut into 8 equal parts (the part
  of x is read off its exponent and the first 3 bits of its significand) and c is the part's
  midpoint. R(c), the constant term, is given as the sum of a number of 26 significant bits and a
  float64 rest.
* For exp(-y) = 2^(-m/64) exp(-s), m = round(64 y / ln 2): 2^(-j/64), j = 0 ... 63, each as a
  number of 26 significant bits plus a float64 rest, and ln(2)/64 as a number of 32 significant
  bits plus a float64 rest.

Each polynomial is the Chebyshev interpolant of its function (at the Chebyshev points of the first
kind, computed at 50 digits), converted to monomials in t or u, then rounded to float64. The
script then evaluates the rounded polynomials exactly (in mpmath) on a fine grid of each interval
and reports their largest error against the function, in float64 ulps (the spacing of float64
numbers at the value, as np.spacing gives it): the part of the final error that is the fit's own,
before the rounding errors of the evaluation in float64.

    python benchmarks/erf_coefficients.py            # the tables, then the fit errors
    python benchmarks/erf_coefficients.py --errors   # the fit errors only
"""
from __future__ import annotations

import argparse

import mpmath as mp

mp.mp.dps = 50

SMALL_DEGREE = 9  # P(t) on [0, 1/4]
SMALL_T = mp.mpf(1) / 4  # t = x², |x| < 1/2
TAIL_DEGREE = 11  # R on each interval
TAIL_BITS = 3  # significand bits that pick the interval within a binade: 8 intervals per binade
TAIL_EXPONENTS = range(-1, 5)  # binades [1/2, 1), [1, 2), ..., [16, 32)
TAIL_END = 28  # erfc(x) rounds to 0 for x > 27.23; the last interval, [26, 28), ends here
EXP_STEPS = 64  # exp(-y) = 2^(-m/EXP_STEPS) exp(-s)
SPLIT_BITS = 26  # the leading part of R(c) and of 2^(-j/64): products of two are exact
LN2_BITS = 32  # the leading part of ln(2)/64: its products with m < 2^17 are exact
CHECK_POINTS = 400  # grid points per interval for the error check


def chebyshev_interpolant(f, n):
    """The coefficients c_0 ... c_n of the degree-n Chebyshev interpolant of f on [-1, 1]."""
    count = n + 1
    angles = [mp.pi * (k + mp.mpf(1) / 2) / count for k in range(count)]
    values = [f(mp.cos(a)) for a in angles]
    coefficients = [2 * mp.fsum(v * mp.cos(j * a) for v, a in zip(values, angles)) / count
                    for j in range(count)]
    coefficients[0] /= 2
    return coefficients


def chebyshev_to_monomials(coefficients):
    """Σ c_j T_j(s) as the coefficients of 1, s, s², ..."""
    result = [mp.mpf(0)] * len(coefficients)
    previous, current = [mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]  # T_0, T_1
    for j, c in enumerate(coefficients):
        if j == 0:
            polynomial = previous
        elif j == 1:
            polynomial = current
        else:  # T_j = 2 s T_(j-1) - T_(j-2)
            following = [mp.mpf(0)] + [2 * a for a in current]
            for i, a in enumerate(previous):
                following[i] -= a
            previous, current = current, following
            polynomial = current
        for i, a in enumerate(polynomial):
            result[i] += c * a
    return result


def compose_affine(monomials, scale, shift):
    """p(s) with s = scale·v + shift, as the coefficients of 1, v, v², ..."""
    result = [mp.mpf(0)] * len(monomials)
    for j, a in enumerate(monomials):  # a (scale v + shift)^j, by the binomial theorem
        for i in range(j + 1):
            result[i] += a * mp.binomial(j, i) * scale ** i * shift ** (j - i)
    return result


def round_bits(value, bits):
    """value rounded to the nearest number of ``bits`` significant bits."""
    exponent = int(mp.floor(mp.log(abs(value), 2)))
    scale = mp.ldexp(1, bits - 1 - exponent)
    return mp.nint(value * scale) / scale


def split(value, bits=SPLIT_BITS):
    """value as (leading part of ``bits`` significant bits, the rest rounded to float64)."""
    leading = round_bits(value, bits)
    return float(leading), float(value - leading)


def ulp(value):
    """The spacing of float64 numbers at value (a normal number): np.spacing's ulp."""
    return mp.ldexp(1, int(mp.floor(mp.log(abs(value), 2))) - 52)


def horner(coefficients, v):
    result = mp.mpf(0)
    for a in reversed(coefficients):
        result = result * v + a
    return result


def small_function(t):
    """P(t) = erf(√t)/√t - 1, with its limit 2/√π - 1 at t = 0."""
    if t == 0:
        return 2 / mp.sqrt(mp.pi) - 1
    x = mp.sqrt(t)
    return mp.erf(x) / x - 1


def erfcx(x):
    return mp.exp(x * x) * mp.erfc(x)


def small_fit():
    """P as float64 coefficients of 1, t, t², ... on [0, 1/4]."""
    half = SMALL_T / 2  # t = half (s + 1)
    coefficients = chebyshev_interpolant(lambda s: small_function(half * (s + 1)), SMALL_DEGREE)
    in_t = compose_affine(chebyshev_to_monomials(coefficients), 1 / half, mp.mpf(-1))
    return [float(a) for a in in_t]


def tail_intervals():
    """(start, end) of each interval of R, in the order of its index in adcore.special."""
    parts = 2 ** TAIL_BITS
    intervals = []
    for e in TAIL_EXPONENTS:
        for j in range(parts):
            start = mp.mpf(2) ** e * (1 + mp.mpf(j) / parts)
            if start >= TAIL_END:
                return intervals
            intervals.append((start, start + mp.mpf(2) ** e / parts))
    return intervals


def tail_fit(start, end):
    """R on [start, end) as float64 numbers (a0_lead, a0_rest, a1, ..., a_n): R(x) is
    a0_lead + (a0_rest + u (a1 + u (a2 + ...))), u = x - midpoint."""
    center, half = (start + end) / 2, (end - start) / 2
    coefficients = chebyshev_interpolant(lambda s: erfcx(center + half * s), TAIL_DEGREE)
    in_u = compose_affine(chebyshev_to_monomials(coefficients), 1 / half, mp.mpf(0))
    return [*split(in_u[0]), *(float(a) for a in in_u[1:])]


def exp2_table():
    """2^(-j/64), j = 0 ... 63, each as (leading 26 bits, float64 rest)."""
    return [split(mp.mpf(2) ** (-mp.mpf(j) / EXP_STEPS)) for j in range(EXP_STEPS)]


def small_error(coefficients):
    """The largest error of x + x P(x²) against erf(x) on [0, 1/2], in ulps."""
    exact = [mp.mpf(a) for a in coefficients]
    worst = mp.mpf(0)
    for i in range(1, CHECK_POINTS + 1):
        x = mp.mpf(i) / (2 * CHECK_POINTS)
        value = x + x * horner(exact, x * x)
        worst = max(worst, abs(value - mp.erf(x)) / ulp(mp.erf(x)))
    return float(worst)


def tail_error(start, end, coefficients):
    """The largest error of R's polynomial against R on [start, end], in ulps."""
    lead, rest, *exact = [mp.mpf(a) for a in coefficients]
    center = (start + end) / 2
    worst = mp.mpf(0)
    for i in range(CHECK_POINTS + 1):
        x = start + (end - start) * i / CHECK_POINTS
        value = lead + rest + (x - center) * horner(exact, x - center)
        worst = max(worst, abs(value - erfcx(x)) / ulp(erfcx(x)))
    return float(worst)


def print_rows(name, rows, comments=None):
    """A tuple of tuples of floats as Python source, within 100 columns."""
    print(f"{name} = (")
    for i, row in enumerate(rows):
        items = [f"{a!r}," for a in row]
        if comments:
            print(f"    # {comments[i]}")
        one_line = f"    ({', '.join(repr(a) for a in row)}),"
        if len(one_line) <= 100:
            print(one_line)
            continue
        print("    (")
        line = "       "
        for item in items:
            if len(line) + 1 + len(item) > 100:
                print(line)
                line = "       "
            line += " " + item
        print(line)
        print("    ),")
    print(")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", action="store_true", help="print the fit errors only")
    args = parser.parse_args()

    small = small_fit()
    intervals = tail_intervals()
    tail = [tail_fit(start, end) for start, end in intervals]
    if not args.errors:
        ln2_step = mp.log(2) / EXP_STEPS
        ln2_lead = round_bits(ln2_step, LN2_BITS)
        print(f"# erf(x) = x + x P(x²) for |x| < 1/2: P's coefficients of t^0 ... t^{SMALL_DEGREE}")
        print("_ERF_SMALL = (")
        for a in small:
            print(f"    {a!r},")
        print(")")
        print()
        print(f"# erfcx(x) = exp(x²) erfc(x) on {len(intervals)} intervals of [1/2, {TAIL_END}),"
              " one row each: a0_lead, a0_rest,")
        print(f"# a1, ..., a{TAIL_DEGREE}; erfcx(x) = a0_lead + (a0_rest + u (a1 + u (a2 + ...))),"
              " u = x - midpoint.")
        print(f"# a0_lead has {SPLIT_BITS} significant bits.")
        print_rows("_ERFCX_TABLE", tail,
                   [f"[{mp.nstr(start, 8)}, {mp.nstr(end, 8)})" for start, end in intervals])
        print()
        print(f"# 2^(-j/{EXP_STEPS}), j = 0 ... {EXP_STEPS - 1}, as (leading {SPLIT_BITS} bits,"
              " float64 rest)")
        print_rows("_EXP2_TABLE", exp2_table())
        print()
        print(f"# ln(2)/{EXP_STEPS} = _LN2_STEP_LEAD ({LN2_BITS} significant bits)"
              " + _LN2_STEP_REST")
        print(f"_LN2_STEP_LEAD = {float(ln2_lead)!r}")
        print(f"_LN2_STEP_REST = {float(ln2_step - ln2_lead)!r}")
        print()
    print(f"fit error of erf on [0, 1/2): {small_error(small):.4f} ulp")
    for (start, end), row in zip(intervals, tail):
        print(f"fit error of erfcx on [{mp.nstr(start, 8)}, {mp.nstr(end, 8)}):"
              f" {tail_error(start, end, row):.4f} ulp")


if __name__ == "__main__":
    main()
