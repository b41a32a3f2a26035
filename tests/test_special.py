"""adcore.special's erf and erfc: against libm (math.erf, math.erfc), in ulps of float64, on dense
grids and random points of [-30, 30], the pieces' boundaries, tiny and huge magnitudes; float32;
special values; the types that come back; and no floating-point exception under np.errstate.

libm's own erfc is not correctly rounded (glibc's is off by up to ~3 ulp in places), so the
tolerance, 4 ulp, covers both errors; this module's own error is within 1 ulp of the exact value.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from adcore import special
from adcore.special import erf, erfc

TOLERANCE = 4.0  # ulps of float64, against libm

# The boundaries of the pieces: |x| = 1/2 (polynomial / erfcx table), the 46 intervals of the
# erfcx table (8 per binade from 1/2 to 32), 6 (erf = ±1, erfc(-x) = 2) and 27.3 (erfc = 0), and
# where erfc underflows to subnormal numbers and to 0.
BOUNDARIES = sorted({0.5, 6.0, 27.3, 26.55, 27.23}
                    | {2.0 ** (k // 8 - 1) * (1 + (k % 8) / 8) for k in range(1, 46)})


def libm(function, x: np.ndarray) -> np.ndarray:
    return np.array([function(value) for value in x.tolist()], dtype=np.float64)


def ulps(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|got - expected| in units of np.spacing(|expected|) (5e-324 where expected is 0)."""
    assert got.dtype == np.float64 and got.shape == expected.shape
    both_nan = np.isnan(got) & np.isnan(expected)
    same = (got == expected) | both_nan  # also inf == inf, whose difference would be NaN
    with np.errstate(invalid="ignore"):
        error = np.abs(got - expected) / np.spacing(np.abs(expected))
    return np.where(same, 0.0, error)


def around(points, steps: int = 3) -> np.ndarray:
    """The points, their negatives and their float64 neighbours up to ``steps`` away."""
    points = np.asarray(points, dtype=np.float64)
    near = [points]
    up = down = points
    for _ in range(steps):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        near += [up, down]
    near_all = np.concatenate(near)
    return np.concatenate([near_all, -near_all])


RNG = np.random.default_rng(20240611)
REGIONS = [(0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, 16.0),
           (16.0, 27.3), (27.3, 30.0)]


def region_points(start: float, end: float) -> np.ndarray:
    grid = np.linspace(start, end, 20001)
    random = RNG.uniform(start, end, 20000)
    x = np.concatenate([grid, random])
    return np.concatenate([x, -x])


@pytest.mark.parametrize(("start", "end"), REGIONS)
def test_erf_against_libm(start, end):
    x = region_points(start, end)
    assert ulps(erf(x), libm(math.erf, x)).max() <= TOLERANCE


@pytest.mark.parametrize(("start", "end"), REGIONS)
def test_erfc_against_libm(start, end):
    x = region_points(start, end)
    assert ulps(erfc(x), libm(math.erfc, x)).max() <= TOLERANCE


def test_dense_grid_and_random_points_over_the_whole_range():
    x = np.concatenate([np.linspace(-30.0, 30.0, 300001), RNG.uniform(-30.0, 30.0, 100000)])
    assert ulps(erf(x), libm(math.erf, x)).max() <= TOLERANCE
    assert ulps(erfc(x), libm(math.erfc, x)).max() <= TOLERANCE


def test_boundaries_of_the_pieces():
    x = around(BOUNDARIES)
    assert ulps(erf(x), libm(math.erf, x)).max() <= TOLERANCE
    assert ulps(erfc(x), libm(math.erfc, x)).max() <= TOLERANCE


def test_tiny_and_huge_magnitudes():
    tiny = np.concatenate([10.0 ** RNG.uniform(-323.0, -1.0, 5000),
                           [5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-20, 1e-8]])
    huge = np.concatenate([10.0 ** RNG.uniform(1.5, 308.0, 2000),
                           [1e10, 1e300, np.finfo(np.float64).max]])
    x = np.concatenate([tiny, -tiny, huge, -huge])
    assert ulps(erf(x), libm(math.erf, x)).max() <= TOLERANCE
    assert ulps(erfc(x), libm(math.erfc, x)).max() <= TOLERANCE
    # erf(x) ≈ 2x/√π in float64 for tiny x: in the subnormal numbers, to their spacing
    assert erf(5e-324) == 5e-324 and erf(-5e-324) == -5e-324
    assert erf(1e-300) == math.erf(1e-300)


def test_the_tail_of_erfc_to_its_underflow():
    x = np.concatenate([np.linspace(20.0, 27.5, 100001), around([26.55, 27.0, 27.2, 27.23])])
    x = x[x > 0]
    expected = libm(math.erfc, x)
    got = erfc(x)
    assert ulps(got, expected).max() <= TOLERANCE
    assert np.all(got[x > 27.3] == 0.0)
    assert np.any((got > 0) & (got < np.finfo(np.float64).tiny))  # subnormal results


def test_symmetries():
    x = np.concatenate([region_points(0.0, 30.0), around(BOUNDARIES)])
    assert np.array_equal(erf(-x), -erf(x))  # exactly: erf is computed for |x|, then signed
    positive = np.abs(x)
    big = positive[positive >= 0.5]
    assert np.array_equal(erfc(-big), 2.0 - erfc(big))  # exactly, as computed there
    # for |x| < 1/2 erfc(-x) is 1 + x - x P(x²) in its own right: within the rounding errors of
    # both and of the difference (2 ulps of the result) of 2 - erfc(x)
    small = positive[positive < 0.5]
    assert ulps(erfc(-small), 2.0 - erfc(small)).max() <= 2.0
    # erf + erfc = 1, to the rounding of the sum and of the larger of the two
    assert np.abs(erf(x) + erfc(x) - 1.0).max() <= 2 * np.spacing(1.0)


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0])
    e, c = erf(x), erfc(x)
    assert np.isnan(e[0]) and np.isnan(c[0])
    assert e[1:].tolist() == [1.0, -1.0, 0.0, 0.0]
    assert c[1:].tolist() == [0.0, 2.0, 1.0, 1.0]
    assert np.signbit(e[4]) and not np.signbit(e[3])  # erf(-0.0) is -0.0
    assert math.isnan(erf(math.nan)) and math.isnan(erfc(math.nan))
    assert erf(math.inf) == 1.0 and erf(-math.inf) == -1.0
    assert erfc(math.inf) == 0.0 and erfc(-math.inf) == 2.0
    assert math.copysign(1.0, erf(-0.0)) == -1.0
    # NaN among other elements, in each piece's company
    mixed = np.array([0.1, np.nan, 1.0, -np.nan, 10.0, -3.0, np.nan, 40.0])
    for function, reference in ((erf, math.erf), (erfc, math.erfc)):
        got = function(mixed)
        assert np.array_equal(np.isnan(got), np.isnan(mixed))
        finite = ~np.isnan(mixed)
        assert ulps(got[finite], libm(reference, mixed[finite])).max() <= TOLERANCE


@pytest.mark.parametrize("function", [erf, erfc])
def test_no_floating_point_error_under_raise(function):
    x = np.concatenate([[np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324,
                         np.finfo(np.float64).max, -np.finfo(np.float64).max],
                        around(BOUNDARIES), np.linspace(-40.0, 40.0, 8001)])
    with np.errstate(over="ignore"):  # the casts of this test's own, of the largest numbers
        x32, x16 = x.astype(np.float32), x.astype(np.float16)
    with np.errstate(all="raise"):
        function(x)
        function(x32)
        function(x16)
        for value in x[:20].tolist():
            function(value)


@pytest.mark.parametrize("block", [special._erf_block, special._erfc_block])
def test_by_design_only_underflow_occurs(block):
    """The computation itself (without the errstate that public functions put around it) meets
    no invalid operation, overflow or division by zero, whatever the input."""
    x = np.concatenate([[np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, np.finfo(np.float64).max],
                        around(BOUNDARIES), np.linspace(-40.0, 40.0, 8001)])
    out = np.empty_like(x)
    with np.errstate(all="raise", under="ignore"):
        block(x, out, np.empty((special._ROWS, x.size)), np.empty(len(special._GATHERED) * x.size))
    assert np.array_equal(out, erf(x) if block is special._erf_block else erfc(x), equal_nan=True)


@pytest.mark.parametrize(("function", "reference"), [(erf, math.erf), (erfc, math.erfc)])
def test_float32(function, reference):
    x = np.concatenate([RNG.uniform(-30.0, 30.0, 50000), RNG.uniform(-1.0, 1.0, 20000),
                        around(BOUNDARIES), 10.0 ** RNG.uniform(-45.0, 0.0, 2000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(np.float32)
    got = function(x)
    assert got.dtype == np.float32
    # float64's result rounded to float32, by construction
    as64 = function(x.astype(np.float64))
    assert np.array_equal(got, as64.astype(np.float32), equal_nan=True)
    # and within a float32 ulp of libm's rounded to float32
    expected = libm(reference, x.astype(np.float64)).astype(np.float32)
    finite = ~np.isnan(expected)
    difference = np.abs(got[finite].astype(np.float64) - expected[finite].astype(np.float64))
    assert np.all(difference <= np.spacing(np.abs(expected[finite])).astype(np.float64))


def test_what_comes_back():
    assert type(erf(0.5)) is float and type(erfc(0.5)) is float
    assert type(erf(1)) is float and erf(1) == erf(1.0)
    assert type(erf(True)) is float
    assert erf(0.5) == erf(np.array([0.5]))[0]
    scalar64 = erf(np.float64(0.5))
    assert isinstance(scalar64, np.float64) and scalar64 == erf(0.5)
    scalar32 = erfc(np.float32(0.5))
    assert isinstance(scalar32, np.float32)
    zero_d = erf(np.array(0.5))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d.dtype == np.float64
    assert erf(np.array(0.5, dtype=np.float32)).dtype == np.float32
    assert erf(np.array([0.5], dtype=np.float16)).dtype == np.float16
    assert erf(np.array([1, 2])).dtype == np.float64
    assert erf(np.array([True])).dtype == np.float64
    assert erfc([0.5, 1.0]).tolist() == erfc(np.array([0.5, 1.0])).tolist()
    assert erf(np.empty((0, 3))).shape == (0, 3)
    with pytest.raises(TypeError):
        erf(np.array([1 + 1j]))


def test_shapes_and_layout():
    x = RNG.uniform(-8.0, 8.0, (40, 30))
    expected = erfc(x.ravel()).reshape(x.shape)
    assert np.array_equal(erfc(x), expected)
    assert np.array_equal(erfc(x.T), expected.T)  # a non-contiguous view
    assert np.array_equal(erfc(x[::3, ::-2]), expected[::3, ::-2])
    before = x.copy()
    erf(x)
    erfc(x)
    assert np.array_equal(x, before)  # the argument is left alone


def test_arrays_longer_than_a_chunk():
    """Elements are computed _CHUNK at a time: the same values as one at a time."""
    n = 2 * special._CHUNK + 1234
    x = RNG.uniform(-8.0, 8.0, n)
    sample = RNG.choice(n, 200, replace=False)
    for function in (erf, erfc):
        whole = function(x)
        assert np.array_equal(whole[sample], [function(value) for value in x[sample].tolist()])
