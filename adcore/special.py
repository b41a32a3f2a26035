"""erf and erfc for numpy arrays and Python floats, to a few ulps in float64 on the whole line.

numpy has no error function, and adcore does not depend on scipy: this module computes them with
numpy alone, vectorized (a handful of whole-array operations, no Python loop over elements).

>>> erf(0.0), erfc(0.0)
(0.0, 1.0)
>>> erf(np.array([-np.inf, -0.0, np.inf]))
array([-1., -0.,  1.])
>>> erfc(np.array([-np.inf, 30.0, np.inf, np.nan]))
array([ 2.,  0.,  0., nan])
>>> erf(np.float32(0.5)).dtype
dtype('float32')

Inputs: Python numbers (a Python float comes back), numpy scalars and arrays of any shape (the
same shape comes back, a 0-d array as a 0-d array). A floating dtype is kept: float32 and float16
are computed in float64 and rounded once at the end; a longdouble array comes back as longdouble
with float64's accuracy. Booleans and integers give float64, as numpy's ufuncs do. Complex input
is refused.

Method. With a = |x|:

* a < 1/2: erf(x) = x + x P(x²), P a polynomial of degree 9 in x² (P(0) = 2/√π - 1 ≈ 0.13, so
  P's rounding errors reach erf scaled down ~8-fold), and erfc(x) = 1 - x - x P(x²), with the
  rounding error of 1 - x recovered exactly (Fast2Sum), so that it too rounds essentially once.
* 1/2 ≤ a: erfc(a) = exp(-a²) R(a), where R(a) = exp(a²) erfc(a), the scaled complementary error
  function, is smooth and slowly varying (~1/(a√π)). R is a polynomial of degree 11 in u = a - c
  on each of 46 intervals: every binade [2^e, 2^(e+1)), e = -1 ... 4, is cut into 8 equal parts,
  so an element's interval is read off its bits (the exponent and the first 3 bits of the
  significand), its coefficients are gathered from a table by one np.take, and all the elements
  go through one Horner loop. c is the interval's midpoint, so u is exact (Sterbenz).
  exp(-a²) is computed here as well, not by np.exp: a² is not exact, and exp would amplify its
  rounding error a²-fold (up to ~745-fold near the underflow); and the product exp(-a²) R should
  round once. So a² = h² + d, h being a rounded to float32 (24 bits: h² is exact) and
  d = (a - h)(a + h) tiny; h² + d = m ln(2)/64 + s with m an integer and |s| < 0.0055 (ln(2)/64
  in two parts, the first short enough for m ln(2)/64 and the difference to be exact); and
  exp(-a²) = 2^(-m/64) exp(-s), 2^(-j/64) (j = m mod 64) from a table, exp(-s) - 1 a Taylor
  polynomial of degree 6. R's constant term and the table's 2^(-j/64) are stored as a leading
  part of 26 bits plus a rest: the product of the leading parts is exact, everything else is a
  correction of relative size < 0.08, and erfc(a) comes out with the one rounding of the final
  sum, plus ~0.1 ulp. Then erf(x) = sign(x) (1 - erfc(a)), and erfc(x) = 2 - erfc(a) for x < 0
  (erfc(a) < 0.48 there, so the difference adds about half an ulp).
* Beyond: erf(x) = ±1 for |x| ≥ 6 (erf rounds to 1 from 5.93 on), erfc(x) = 2 for x ≤ -6 and 0 for
  x ≥ 27.3 (it is below half the smallest subnormal number from 27.23 on). NaN gives NaN.

The elements of each piece are picked by np.flatnonzero, and the arrays are computed 32768
elements at a time, every operation writing into a workspace allocated once per call: no Python
loop over the elements.

The polynomials are Chebyshev interpolants computed at 50 digits by
benchmarks/erf_coefficients.py (which needs mpmath; this module does not), printed by it and pasted
in below. Against mpmath, the largest errors seen on dense samples of [-30, 30] are ~0.6 ulp for
erfc and ~0.75 ulp for erf in float64, nearly correctly rounded; against libm's erf and erfc
(math.erf, math.erfc: glibc's erfc is itself off by up to ~3 ulp) the differences stay within 3 ulp
(tests/test_special.py checks 4). A float32 result is the float64 one rounded to float32.

No floating-point exception escapes: the computation runs under np.errstate(all="ignore"), and the
only one it meets by design is underflow (in the final scaling by 2^-e, for large |x|, and in x²
for tiny x), where the tiny results are meant.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["erf", "erfc"]

# The constants: the output of `python benchmarks/erf_coefficients.py`, pasted in as it was printed
# (Chebyshev interpolants computed with mpmath at 50 digits, rounded to float64; and the splits of
# erfcx's constant terms, of 2^(-j/64) and of ln(2)/64 that the exact products below need).

# erf(x) = x + x P(x²) for |x| < 1/2: P's coefficients of t^0 ... t^9
_ERF_SMALL = (
    0.1283791670955126,
    -0.3761263890318375,
    0.1128379167095487,
    -0.02686617064499972,
    0.0052239776220169365,
    -0.0008548326510724796,
    0.00012055286202005714,
    -1.4923003368152099e-05,
    1.637123442577e-06,
    -1.462091340945175e-07,
)

# erfcx(x) = exp(x²) erfc(x) on 46 intervals of [1/2, 28), one row each: a0_lead, a0_rest,
# a1, ..., a11; erfcx(x) = a0_lead + (a0_rest + u (a1 + u (a2 + ...))), u = x - midpoint.
# a0_lead has 26 significant bits.
_ERFCX_TABLE = (
    # [0.5, 0.5625)
    (
        0.6000130772590637, 6.295461884711586e-09, -0.4908652658188291, 0.33924091108827265,
        -0.2070956878687895, 0.11461066345398906, -0.05848350916354311, 0.02784709973713374,
        -0.012482782122430723, 0.005303905075251004, -0.002147795955868168, 0.0008329039180138563,
        -0.0003102020704615892,
    ),
    # [0.5625, 0.625)
    (
        0.570610299706459, -1.267106553205393e-09, -0.4507794376987815, 0.302960007305701,
        -0.18059795557401434, 0.09786498559181495, -0.048996248151549675, 0.022924487750747916,
        -0.010109952442796858, 0.0042304256011256, -0.0016884748141529785, 0.0006458252565893514,
        -0.00023738673760304304,
    ),
    # [0.625, 0.6875)
    (
        0.5435773730278015, 4.690580172986811e-09, -0.4149338588401366, 0.271277032854542,
        -0.15793887068622894, 0.08381482448335213, -0.04117415684761162, 0.01893142801747298,
        -0.008214402060381838, 0.003385181460981663, -0.0013317502842209185, 0.0005024309874869385,
        -0.00018227284834423457,
    ),
    # [0.6875, 0.75)
    (
        0.5186663717031479, -2.8027273473359605e-09, -0.38279626180115806, 0.2435315557308382,
        -0.1385053040797454, 0.07199043421176057, -0.03470487179601698, 0.015682102536203564,
        -0.0066952458852200395, 0.002717473482824546, -0.0010537914382228951,
        0.00039215437849880524, -0.00014041714365442944,
    ),
    # [0.75, 0.8125)
    (
        0.4956601485610008, 6.450244922148355e-10, -0.353910183961098, 0.2191678179864175,
        -0.12179021743947291, 0.06200960530591463, -0.029338085317690832, 0.013029742050549934,
        -0.005473885525947344, 0.0021883171266102513, -0.0008365027778437025, 0.0003070684024524353,
        -0.0001085250294397635,
    ),
    # [0.8125, 0.875)
    (
        0.47436807304620743, -1.0192981600263884e-09, -0.32788304555010317, 0.1977167523440097,
        -0.10737302383989666, 0.05356038173954844, -0.02487258069886106, 0.01085804725834104,
        -0.0044888866642079014, 0.0017676371925478386, -0.0006660983492872586,
        0.00024120645139190074, -8.414541574024968e-05,
    ),
    # [0.875, 0.9375)
    (
        0.4546222910284996, 1.7753189923922902e-09, -0.30437626138859136, 0.17878130592040767,
        -0.09490380193214795, 0.046387367709699284, -0.02114609997809318, 0.009074571534886297,
        -0.0036920770070499333, 0.0014321566166729204, -0.0005320410906210764,
        0.00019006271803277396, -6.544870867286769e-05,
    ),
    # [0.9375, 1.0)
    (
        0.4362746626138687, -3.3680790399178193e-09, -0.28309701480679506, 0.16202442615170695,
        -0.08409056798155266, 0.0402808442097889, -0.018027400061327862, 0.007605600133486544,
        -0.0030455642663056635, 0.0011638023835773786, -0.0004262512394041132,
        0.0001502234953842074, -5.106475408515834e-05,
    ),
    # [1.0, 1.125)
    (
        0.4110920578241348, -3.3793043423583635e-09, -0.2548085514002478, 0.1403579685820672,
        -0.07045213985453426, 0.03275128499331118, -0.014261559819655645, 0.005866125896168508,
        -0.0022939431593003226, 0.0008572022334230685, -0.0003073698512839437,
        0.00010625837060943069, -3.542609302219326e-05,
    ),
    # [1.125, 1.25)
    (
        0.3813040554523468, 3.5143710963188007e-09, -0.22278202704955757, 0.11675040184536829,
        -0.05609394990545515, 0.02506941816631949, -0.010529606333179786, 0.004188503549277521,
        -0.001587359534297512, 0.0005758781694212096, -0.00020077851003273044,
        6.757178424123449e-05, -2.1958100292198126e-05,
    ),
    # [1.25, 1.375)
    (
        0.35517678409814835, 2.399485798494855e-09, -0.19604010253922294, 0.09787415191490403,
        -0.04505351876727427, 0.019370704266427872, -0.007851787767034744, 0.0030217442745063237,
        -0.0011102138307959647, 0.0003911469374652016, -0.00013262953255092466,
        4.346372773965118e-05, -1.3769078763230345e-05,
    ),
    # [1.375, 1.5)
    (
        0.33211756497621536, -2.2478430266397467e-09, -0.1735411742514421, 0.08265212474192431,
        -0.03648582995661728, 0.015101872089643233, -0.005910755531101836, 0.0022017203381679775,
        -0.0007845092987591463, 0.0002684969204163322, -8.856546771233059e-05,
        2.8267506348640994e-05, -8.731690175057267e-06,
    ),
    # [1.5, 1.625)
    (
        0.3116486072540283, 1.3941017327550132e-09, -0.15447726507010615, 0.07027788197608918,
        -0.02977871632164454, 0.011874318861759636, -0.004490037240057902, 0.0016195452248940272,
        -0.0005598565218853343, 0.0001861922679484916, -5.9762414013638105e-05,
        1.8581908347498805e-05, -5.597873901322682e-06,
    ),
    # [1.625, 1.75)
    (
        0.2933816462755203, 2.489756913186859e-09, -0.1382161025127019, 0.06014197577509279,
        -0.024484345594821877, 0.009412321291915337, -0.0034404213658858042, 0.001202203412435835,
        -0.0004033437450537888, 0.00013039015726579682, -4.0735599475425025e-05,
        1.2341917996715627e-05, -3.6268600542952156e-06,
    ),
    # [1.75, 1.875)
    (
        0.27699872851371765, 2.1593350990865757e-09, -0.12425876840569636, 0.05177971293772811,
        -0.02027202580404277, 0.007518333083950232, -0.002658018835753127, 0.0009002246481183629,
        -0.0002932461889227871, 9.217894854111341e-05, -2.8038164671332097e-05,
        8.279722266292537e-06, -2.3739770051160655e-06,
    ),
    # [1.875, 2.0)
    (
        0.2622376084327698, -1.882388336568092e-09, -0.1122084417127845, 0.04483375073186147,
        -0.016895366446535262, 0.00604948912084966, -0.0020697925099555765, 0.0006797553776482162,
        -0.00021507613311148966, 6.576132039665771e-05, -1.948077905658908e-05,
        5.608477492634859e-06, -1.5693472752930254e-06,
    ),
    # [2.0, 2.25)
    (
        0.24267036467790604, -6.525148979090768e-11, -0.09703011749173075, 0.03648136494272671,
        -0.013004811325624343, 0.004423070437881948, -0.0014423146580439463, 0.00045271726469296746,
        -0.000137225850042588, 4.027789652111821e-05, -1.1474379300230261e-05,
        3.1895965703813367e-06, -8.607452856247888e-07,
    ),
    # [2.25, 2.5)
    (
        0.22050569206476212, 1.4014454915951796e-10, -0.08097712912220592, 0.028185010539667616,
        -0.009358486060330226, 0.0029793030731892186, -0.0009130565045994084,
        0.00027026462558966805, -7.74794345670608e-05, 2.1562659692597378e-05,
        -5.837295734523925e-06, 1.5445061172038061e-06, -3.975590526851062e-07,
    ),
    # [2.5, 2.75)
    (
        0.2018875554203987, -8.743817026386529e-10, -0.06846950572892327, 0.02215510200759342,
        -0.006874908639327039, 0.002054233414678852, -0.0005930183703165845, 0.00016585339783779465,
        -4.50437720128559e-05, 1.1903336404548716e-05, -3.066083366206015e-06, 7.73116712839936e-07,
        -1.9000972916777728e-07,
    ),
    # [2.75, 3.0)
    (
        0.18605493381619453, 8.682765695272196e-10, -0.05856329265980373, 0.01768546828753539,
        -0.005145047555426323, 0.0014467282828418285, -0.0003942814969016999,
        0.00010438965989396246, -2.6903207209950058e-05, 6.760716998204656e-06,
        -1.6591281372432145e-06, 3.9915700079401674e-07, -9.376698452878646e-08,
    ),
    # [3.0, 3.25)
    (
        0.17244435101747513, 1.084698479686836e-09, -0.05060196645692752, 0.014313206924275094,
        -0.003915463212378573, 0.0010386921927957693, -0.0002678200439563404, 6.72515185476265e-05,
        -1.647401393361567e-05, 3.94254758306532e-06, -9.230038235388725e-07,
        2.1212527312790106e-07, -4.768008973757825e-08,
    ),
    # [3.25, 3.5)
    (
        0.16063106805086136, 7.568304557388983e-11, -0.044119457241337846, 0.011727899937029176,
        -0.0030251966359095845, 0.000758930645417035, -0.00018552228305063564, 4.42643134089325e-05,
        -1.0322921554276099e-05, 2.356108943527815e-06, -5.268966961883706e-07,
        1.1581384103819385e-07, -2.4934974438139703e-08,
    ),
    # [3.5, 3.75)
    (
        0.15028972178697586, 6.872934997530973e-10, -0.03877867915705971, 0.009717010529927907,
        -0.0023696773240473664, 0.000563465115128035, -0.00013084651268318616,
        2.971550223531322e-05, -6.607947759617024e-06, 1.4404206611585437e-06,
        -3.080917173109355e-07, 6.484510248431812e-08, -1.3387321945469595e-08,
    ),
    # [3.75, 4.0)
    (
        0.14116742089390755, -1.1308557549159028e-09, -0.034331663931861184, 0.0081322220270897,
        -0.001879535717925734, 0.00042451056006370484, -9.382291907148985e-05,
        2.0315582896824868e-05, -4.314295825695791e-06, 8.994204583879374e-07,
        -1.8423020778443085e-07, 3.717307786154712e-08, -7.3667067104296745e-09,
    ),
    # [4.0, 4.5)
    (
        0.12934527546167374, -6.756858257908915e-10, -0.028944331414615332, 0.0063318662738727684,
        -0.0013559331671041017, 0.0002845751568365328, -5.859550021269772e-05,
        1.1848093892398079e-05, -2.354600680568321e-06, 4.6025258978602315e-07,
        -8.855297416653137e-08, 1.6889448681337587e-08, -3.1535089577522195e-09,
    ),
    # [4.5, 5.0)
    (
        0.11630270630121231, 9.090349968689086e-10, -0.02350344859816315, 0.004661326368972346,
        -0.0009080988970296916, 0.00017392830403949245, -3.277578113443532e-05,
        6.0811146297274706e-06, -1.1115677334902466e-06, 2.0028952293079054e-07,
        -3.559533386063177e-08, 6.277199579610194e-09, -1.086634106225331e-09,
    ),
    # [5.0, 5.5)
    (
        0.10561273619532585, -7.264340490393994e-10, -0.01944544467214865, 0.003524150940111399,
        -0.0006291014910425436, 0.00011068405606862019, -1.92040786720069e-05, 3.28754770766734e-06,
        -5.555581045925276e-07, 9.271606681106852e-08, -1.5287489766451844e-08,
        2.503408240513067e-09, -4.033307228097708e-10,
    ),
    # [5.5, 6.0)
    (
        0.09669877775013447, 4.1957945273730137e-10, -0.016343218143802483, 0.002725273842849636,
        -0.00044859569827805597, 7.292428887525779e-05, -1.1712414897764424e-05,
        1.859301081222977e-06, -2.918382127246979e-07, 4.530752518532395e-08,
        -6.9595394849173835e-09, 1.062505450447448e-09, -1.5990078581999789e-10,
    ),
    # [6.0, 6.5)
    (
        0.0891566313803196, 4.06954794536155e-10, -0.0139212697545827, 0.002148695821132512,
        -0.0003279472483363342, 4.9512759515152854e-05, -7.397000546496324e-06,
        1.0938353705341451e-06, -1.6015128791579243e-07, 2.3222331294468494e-08,
        -3.3357478954260717e-09, 4.765446560771392e-10, -6.721868256231348e-11,
    ),
    # [6.5, 7.0)
    (
        0.08269505761563778, -8.405847197091772e-10, -0.01199590063229627, 0.0017227275070532352,
        -0.0002449933064579556, 3.451134423099305e-05, -4.816693159431571e-06,
        6.662218032845753e-07, -9.134171409308613e-08, 1.24162566117156e-08,
        -1.6736895375718629e-09, 2.2450546085064328e-10, -2.977537196388418e-11,
    ),
    # [7.0, 7.5)
    (
        0.07709917984902859, 5.022313143223743e-10, -0.010441052002244, 0.0014015533349909033,
        -0.0001865268823733005, 2.4616718892226658e-05, -3.2222681618304083e-06,
        4.184249070524057e-07, -5.391074038134921e-08, 6.892987181222917e-09,
        -8.747570372084374e-10, 1.1052175170974668e-10, -1.3822985319325637e-11,
    ),
    # [7.5, 8.0)
    (
        0.07220717146992683, -6.552570735983664e-10, -0.009168019468131287, 0.0011550199366522939,
        -0.00014440997271733912, 1.7921324046452876e-05, -2.207884542915902e-06,
        2.7007294662106666e-07, -3.280548838423348e-08, 3.9575925363239456e-09,
        -4.742356444497371e-10, 5.660081431739887e-11, -6.694041783792037e-12,
    ),
    # [8.0, 9.0)
    (
        0.0659251231700182, -6.700378443967066e-10, -0.007652084595846594, 0.0008824034352843093,
        -0.00010110359728669621, 1.1511429173271274e-05, -1.3025797240681217e-06,
        1.4650051347644886e-07, -1.637869251173329e-08, 1.8203508738435116e-09,
        -2.0115738218442352e-10, 2.2301443804568864e-11, -2.4365485285030676e-12,
    ),
    # [9.0, 10.0)
    (
        0.05906467791646719, 4.360967010569853e-10, -0.006150278396798648, 0.0006370335829767404,
        -6.563957234642469e-05, 6.728822842741853e-06, -6.863021357180218e-07,
        6.965085303650354e-08, -7.034014435438724e-09, 7.069143437655855e-10,
        -7.070729762913245e-11, 7.091032915997013e-12, -7.026048055244109e-13,
    ),
    # [10.0, 11.0)
    (
        0.053491899743676186, 2.8879311155841292e-12, -0.005049272417666123, 0.0004745393610698296,
        -4.440608428861298e-05, 4.1377380196639215e-06, -3.839340327163984e-07,
        3.547689260585674e-08, -3.2647618263758507e-09, 2.992190472828439e-10,
        -2.7314415126743615e-11, 2.4988638241255492e-12, -2.26308800923985e-13,
    ),
    # [11.0, 12.0)
    (
        0.04887654725462198, -3.586397061169044e-10, -0.004218588487920215, 0.0003627792848998001,
        -3.1084474381677795e-05, 2.6539147552420934e-06, -2.257818785076124e-07,
        1.9141050983385103e-08, -1.6170840976423434e-09, 1.361445619583439e-10,
        -1.1423330375669034e-11, 9.602420842704653e-13, -8.002801902577102e-14,
    ),
    # [12.0, 13.0)
    (
        0.044992098584771156, 4.162567645335911e-10, -0.003576692069814553, 0.0002834481283460113,
        -2.239364365960872e-05, 1.7637913004473619e-06, -1.3850096158750088e-07,
        1.0843093599031065e-08, -8.463692636503968e-10, 6.58689532429105e-11,
        -5.111324401776307e-12, 3.9724907352277293e-13, -3.064740794509149e-14,
    ),
    # [13.0, 14.0)
    (
        0.04167809709906578, -3.3497763141874007e-10, -0.003070554465132545, 0.0002256114847987927,
        -1.653294689922914e-05, 1.2083508295982178e-06, -8.808427985338762e-08,
        6.404350550454327e-09, -4.644422173512436e-10, 3.359496406273074e-11,
        -2.4239061855199414e-12, 1.751216856484309e-13, -1.2571611072601727e-14,
    ),
    # [14.0, 15.0)
    (
        0.03881774749606848, -4.2142125824799993e-10, -0.0026645019307432118, 0.0001824690788706483,
        -1.2466858079207668e-05, 8.49818361067976e-07, -5.779673748536083e-08,
        3.921889186775192e-09, -2.655269785168468e-10, 1.7936922211008613e-11,
        -1.2089915503486445e-12, 8.158401992442874e-14, -5.474710858504725e-15,
    ),
    # [15.0, 16.0)
    (
        0.036324042826890945, 2.3259448316350686e-10, -0.0023338322514642874, 0.0001496431617889746,
        -9.575495823454111e-06, 6.114882627176788e-07, -3.897110053045161e-08,
        2.4787348362130925e-09, -1.573458962967932e-10, 9.968327573970277e-12,
        -6.302873522234787e-13, 3.9893233944565235e-14, -2.5125870329765712e-15,
    ),
    # [16.0, 18.0)
    (
        0.03313049953430891, 4.654166263058101e-10, -0.001942167104844326, 0.00011365921737199466,
        -6.64027301363092e-06, 3.87288070114265e-07, -2.2550328536602485e-08, 1.310828417100651e-09,
        -7.607055171559659e-11, 4.407092762353879e-12, -2.5491133801284343e-13,
        1.4868230048456274e-14, -8.571604382518187e-16,
    ),
    # [18.0, 20.0)
    (
        0.02965323068201542, -4.0753255486987186e-11, -0.00155640272755036, 8.157881780532511e-05,
        -4.270126166127242e-06, 2.2321032444884526e-07, -1.1652000602164271e-08,
        6.074376901741997e-10, -3.162425429443429e-11, 1.644174266292656e-12,
        -8.537054476417293e-14, 4.462681179565462e-15, -2.3109871327180537e-16,
    ),
    # [20.0, 22.0)
    (
        0.02683581318706274, -2.8414783685352726e-11, -0.0012750144322983949,
        6.0510080381663357e-05, -2.868496188977921e-06, 1.3583020656214533e-07,
        -6.424740457639738e-09, 3.0355232305372505e-10, -1.4326227581266279e-11,
        6.753747418258679e-13, -3.180449291275134e-14, 1.506052767126654e-15, -7.07667287186017e-17,
    ),
    # [22.0, 24.0)
    (
        0.02450686227530241, -1.8601980421974452e-10, -0.0010635109885127022, 4.61093534904554e-05,
        -1.9972388214858825e-06, 8.64302981396299e-08, -3.736785705838027e-09,
        1.6140897026225358e-10, -6.965551912994034e-12, 3.003155736935891e-13,
        -1.2936173694418654e-14, 5.598202308262834e-16, -2.407002982937812e-17,
    ),
    # [24.0, 26.0)
    (
        0.02254957240074873, 3.1892629237621194e-11, -0.0009005454634446267, 3.593584652569106e-05,
        -1.4328668682337218e-06, 5.7087409923861835e-08, -2.272648053412684e-09,
        9.040286346802451e-11, -3.593280652798829e-12, 1.4271059158139872e-13,
        -5.663507298112533e-15, 2.256445336261711e-16, -8.940758058633627e-18,
    ),
    # [26.0, 28.0)
    (
        0.02088160812854767, -1.3812672778300092e-10, -0.0007723356127817775, 2.854644531294831e-05,
        -1.0543928881154606e-06, 3.891866691538409e-08, -1.4355525594519712e-09,
        5.2915936957010425e-11, -1.9492193860188625e-12, 7.175293990470463e-14,
        -2.6395469229538157e-15, 9.742904772988892e-17, -3.579262709379719e-18,
    ),
)

# 2^(-j/64), j = 0 ... 63, as (leading 26 bits, float64 rest)
_EXP2_TABLE = (
    (1.0, 0.0),
    (0.9892280101776123, 3.0163631794416248e-09),
    (0.9785720556974411, 6.390259033434943e-09),
    (0.9680308997631073, -3.0169600745056594e-09),
    (0.9576032757759094, 4.922664223108181e-09),
    (0.947287991642952, -8.49469144661922e-10),
    (0.9370838105678558, 6.487294115704062e-09),
    (0.9269895553588867, 7.182806065446226e-09),
    (0.9170040488243103, -5.619639070990834e-09),
    (0.9071260839700699, 3.780129492871011e-09),
    (0.8973545432090759, -5.707522334520523e-09),
    (0.8876882493495941, -3.086333489935658e-09),
    (0.8781260848045349, -4.617885170553294e-09),
    (0.8686669170856476, 5.512055414892885e-10),
    (0.8593096435070038, 5.554235173634985e-09),
    (0.8500531762838364, 5.754253700045875e-10),
    (0.840896412730217, 2.5234975630506567e-09),
    (0.8318382948637009, -4.7003326491760504e-09),
    (0.8228777348995209, 4.177461548235941e-09),
    (0.8140137046575546, 6.271119256959265e-09),
    (0.8052451610565186, 4.918108599402261e-09),
    (0.7965710759162903, -2.4515683423450067e-10),
    (0.7879904210567474, 1.4971958067041976e-09),
    (0.77950219810009, 2.018828456661395e-09),
    (0.7711054086685181, 4.035452345399896e-09),
    (0.7627990692853928, 6.0868763921951585e-09),
    (0.7545822113752365, 2.421474858652541e-09),
    (0.7464538663625717, -2.216939291708272e-09),
    (0.7384130656719208, 7.297828879326266e-09),
    (0.7304589003324509, -3.2421273723735674e-09),
    (0.7225904017686844, 1.7198389228114718e-09),
    (0.7148066759109497, -6.7149647014137174e-09),
    (0.7071067839860916, -2.799544089368687e-09),
    (0.6994898319244385, 4.344717093542264e-09),
    (0.6919549405574799, 4.2443611903789224e-10),
    (0.6845012158155441, -4.328248822453168e-09),
    (0.6771277785301208, -5.061674485460367e-09),
    (0.6698337644338608, -2.4072092761285785e-09),
    (0.6626183241605759, -2.5807052193844503e-09),
    (0.6554806083440781, -2.581695893003348e-09),
    (0.6484197825193405, -5.193835682169842e-09),
    (0.6414350122213364, -4.181947224382759e-09),
    (0.6345254778862, 7.096666601053345e-10),
    (0.6276903748512268, 3.6611187381490705e-09),
    (0.6209289133548737, -7.318131632929724e-09),
    (0.6142402738332748, -5.7798398384615895e-09),
    (0.6076236814260483, -1.4358138397503337e-09),
    (0.6010783612728119, 4.453539681399761e-09),
    (0.5946035534143448, 4.087015745761094e-09),
    (0.5881984978914261, -2.0662854482834585e-09),
    (0.5818624347448349, -5.356046142995557e-09),
    (0.5755946189165115, -3.940020182735651e-09),
    (0.5693943202495575, -2.8712116682652722e-09),
    (0.5632608085870743, 7.170466701122431e-10),
    (0.5571933686733246, 2.624621683193469e-09),
    (0.5511912852525711, 6.401349365821176e-09),
    (0.5452538728713989, -6.538770096177745e-09),
    (0.5393804013729095, -2.4943496490280976e-09),
    (0.5335702002048492, 1.3356256592069806e-10),
    (0.5278225839138031, 5.266475478818233e-09),
    (0.5221368968486786, -5.6349716687062046e-09),
    (0.5165124386548996, 8.557146140820853e-10),
    (0.5109485685825348, 5.744523549078177e-09),
    (0.5054446458816528, -2.855802602021045e-09),
)

# ln(2)/64 = _LN2_STEP_LEAD (32 significant bits) + _LN2_STEP_REST
_LN2_STEP_LEAD = 0.010830424696905538
_LN2_STEP_REST = -6.563929801064195e-13


_SMALL_END = 0.5  # erf's polynomial covers |x| < 1/2, erfcx's table covers the rest
_ERF_ONE = 6.0  # erf(x) rounds to 1 from 5.93 on: |x| ≥ _ERF_ONE gives ±1, as erfc(-x) gives 2
_ERFC_ZERO = 27.3  # erfc(x) < 2^-1075 from 27.23 on, so it rounds to 0: x ≥ _ERFC_ZERO gives 0

_INTERVAL_SHIFT = 52 - 3  # float64 bits >> 49: the biased exponent, then 3 bits of significand
_FIRST_INTERVAL = int(np.array(_SMALL_END).view(np.int64)) >> _INTERVAL_SHIFT  # that of 1/2
_MIDPOINTS = [2.0 ** (i // 8 - 1) * (1 + (i % 8 + 0.5) / 8) for i in range(len(_ERFCX_TABLE))]
# What _erfc_mid gathers for each element, one row per item, one column per interval: the
# midpoint, a11, a10, ..., a1 (Horner's loop, highest coefficient first), a0_rest, a0_lead.
_COLUMNS = list(zip(*_ERFCX_TABLE))  # _COLUMNS[i]: the i-th number of every interval's row
_GATHERED = np.array([_MIDPOINTS, *_COLUMNS[:1:-1], _COLUMNS[1], _COLUMNS[0]])
_EXP2_LEAD, _EXP2_REST = np.array(_EXP2_TABLE).T.copy()
_EXP_STEPS = len(_EXP2_TABLE)  # 64
_TO_STEPS = _EXP_STEPS / math.log(2)  # y ↦ y / (ln(2)/64): any nearby number picks a good m
_ROUNDER = 1.5 * 2.0**52  # y + _ROUNDER - _ROUNDER rounds 0 ≤ y < 2^51 to an integer
_ROUNDER_BITS = int(np.array(_ROUNDER).view(np.int64))  # ... whose bits are _ROUNDER's plus it

# The arrays are computed _CHUNK elements at a time, in the rows of one workspace allocated per
# call, every operation writing into a row (out=): the working set stays in the cache, and no
# memory is allocated (and freed, and handed back to the system by malloc, and faulted in again)
# per operation. Rows 0-5 are scratch for _erfc_mid (_erf_small and _erfc_small use the first 2
# or 3 of them), 6 and 7 hold |x| and the elements of x taken for a piece; a second, flat buffer
# receives the coefficients that _erfc_mid gathers.
_CHUNK = 1 << 15
_ROWS = 8
_ABS_ROW, _X_ROW = 6, 7

_Float = NDArray[np.float64]


def _x_times_p(x: _Float, t: _Float, p: _Float) -> _Float:
    """x P(x²) = erf(x) - x for |x| < 1/2, into p (t: scratch)."""
    np.multiply(x, x, out=t)
    np.multiply(t, _ERF_SMALL[-1], out=p)
    p += _ERF_SMALL[-2]
    for c in _ERF_SMALL[-3::-1]:
        p *= t
        p += c
    p *= x
    return p


def _erf_small(x: _Float, rows: list[_Float]) -> _Float:
    """erf(x) for |x| < 1/2, as x + x P(x²) (which keeps the sign of a zero), in rows[1]."""
    p = _x_times_p(x, rows[0], rows[1])
    p += x
    return p


def _erfc_small(x: _Float, rows: list[_Float]) -> _Float:
    """erfc(x) for |x| < 1/2: 1 - x - x P(x²), in rows[0], with the rounding error of 1 - x
    recovered (Fast2Sum, as 1 ≥ |x|) so that the sum rounds once, plus x P's own rounding error
    (less than 0.1 ulp)."""
    p = _x_times_p(x, rows[0], rows[1])
    w = np.subtract(1.0, x, out=rows[0])
    error = np.subtract(1.0, w, out=rows[2])
    error -= x  # 1 - x = w + error, exactly
    error -= p
    w += error
    return w


def _erfc_mid(a: _Float, rows: list[_Float], gather: _Float) -> _Float:
    """erfc(a) for 1/2 ≤ a < _ERFC_ZERO, in rows[0] (rows[0:6] and gather: scratch), as
    exp(-a²) erfcx(a) with one rounding at the end, up to ~0.1 ulp from the others.

    With erfcx(a) = lead + rho (lead from the table, |rho| < 0.07 lead) and exp(-a²) =
    2^-e 2^(-j/64) exp(-s) = 2^-e (t_lead + f_rest) (t_lead from a table, |f_rest| < 0.006 t_lead),
    erfc(a) 2^e is t_lead lead, exact (26 bits by 26 bits), plus the small rest
    t_lead rho + f_rest (lead + rho), whose rounding errors are scaled down by its size.
    """
    r0, r1, r2, r3, r4, r5 = rows[:6]
    # exp(-a²). a² = h² + d: h is a rounded to float32's 24 bits, so h² is exact, and
    # d = (a - h)(a + h) is small (< 1e-4) and exact to float64's precision. Then
    # h² = m ln(2)/64 + s - d, m the nearest integer to h² 64/ln(2), with ln(2)/64 in two parts,
    # the first of 32 bits so that its product with m (< 2^17) and the difference from h² are
    # exact.
    h = r0
    h32 = r1.view(np.float32)[:a.size]
    np.copyto(h32, a, casting="same_kind")
    np.copyto(h, h32)
    d = np.subtract(a, h, out=r1)
    d *= np.add(a, h, out=r2)
    h *= h
    steps = np.multiply(h, _TO_STEPS, out=r2)
    steps += _ROUNDER
    m = np.subtract(steps.view(np.int64), _ROUNDER_BITS, out=r3.view(np.int64))
    steps -= _ROUNDER  # m as a float64
    s = np.multiply(steps, _LN2_STEP_LEAD, out=r4)
    np.subtract(h, s, out=s)
    steps *= _LN2_STEP_REST
    s -= steps
    s += d  # a² = m ln(2)/64 + s, |s| < 0.0055
    # q = exp(-s) - 1 by its Taylor polynomial: the first term left out, s^7/7!, is below 1e-19
    q = np.multiply(s, 1.0 / 720.0, out=r0)
    for c in (-1.0 / 120.0, 1.0 / 24.0, -1.0 / 6.0, 0.5, -1.0):
        q += c
        q *= s
    # m = 64 e + j, exp(-a²) = 2^-e 2^(-j/64) (1 + q), 2^(-j/64) (1 + q) = t_lead + f_rest
    j = np.bitwise_and(m, _EXP_STEPS - 1, out=r1.view(np.int64))
    t_lead = np.take(_EXP2_LEAD, j, out=r2, mode="clip")
    t_rest = np.take(_EXP2_REST, j, out=r4, mode="clip")
    f_rest = np.add(t_lead, t_rest, out=r5)
    f_rest *= q
    f_rest += t_rest
    # 2^-e in two factors, 2^-e1 2^-e2, e1 = e // 2 ≤ 538: t_lead and f_rest are scaled by the
    # first now, exactly; the second scales the result at the end, and rounds then, into the
    # subnormal numbers or to 0 if need be. Then m's row holds 2^-e2.
    e = np.right_shift(m, 6, out=m)
    e1 = np.right_shift(e, 1, out=r1.view(np.int64))
    e -= e1
    first = _power_of_two(e1)
    t_lead *= first
    f_rest *= first
    second = _power_of_two(e)

    # erfcx(a) = lead + rho, rho = a0_rest + u (a1 + u (a2 + ...)), u = a - the midpoint (exact:
    # a and the midpoint are within a factor 2 of each other)
    interval = np.right_shift(a.view(np.int64), _INTERVAL_SHIFT, out=r0.view(np.int64))
    interval -= _FIRST_INTERVAL
    count = len(_GATHERED)
    gathered = np.take(_GATHERED, interval, axis=1, mode="clip",
                       out=gather[:count * a.size].reshape(count, a.size))
    u = np.subtract(a, gathered[0], out=r1)
    rho = np.multiply(gathered[1], u, out=r4)
    for column in gathered[2:-2]:
        rho += column
        rho *= u
    rho += gathered[-2]
    lead = gathered[-1]

    result = np.add(lead, rho, out=r0)
    result *= f_rest
    rho *= t_lead
    result += rho
    t_lead *= lead  # exact
    result += t_lead  # the one rounding that matters
    result *= second
    return result


def _power_of_two(e: NDArray[np.int64]) -> _Float:
    """2^-e for integers 0 ≤ e ≤ 1022, built in e's place from its bits."""
    np.subtract(1023, e, out=e)
    np.left_shift(e, 52, out=e)
    return e.view(np.float64)


def _erf_block(x: _Float, out: _Float, work: _Float, gather: _Float) -> None:
    """erf of a 1-d float64 array into out; work: _ROWS rows at least as long as x."""
    a = np.abs(x, out=work[_ABS_ROW, :x.size])
    np.copysign(1.0, x, out=out)  # right for |x| ≥ _ERF_ONE and ±inf
    near = a < _SMALL_END
    mid = a < _ERF_ONE  # False for NaN, as is near
    mid ^= near
    index = np.flatnonzero(near)
    if index.size:
        rows = list(work[:, :index.size])
        out[index] = _erf_small(np.take(x, index, out=rows[_X_ROW], mode="clip"), rows)
    index = np.flatnonzero(mid)
    if index.size:
        rows = list(work[:, :index.size])
        xm = np.take(x, index, out=rows[_X_ROW], mode="clip")
        e = _erfc_mid(np.abs(xm, out=rows[_ABS_ROW]), rows, gather)
        np.subtract(1.0, e, out=e)
        out[index] = np.copysign(e, xm, out=e)
    nan = np.isnan(x)
    if nan.any():
        out[nan] = x[nan]


def _erfc_block(x: _Float, out: _Float, work: _Float, gather: _Float) -> None:
    """erfc of a 1-d float64 array into out; work: _ROWS rows at least as long as x."""
    a = np.abs(x, out=work[_ABS_ROW, :x.size])
    np.multiply(x < 0, 2.0, out=out)  # right for x ≤ -_ERF_ONE, x ≥ _ERFC_ZERO and ±inf
    near = a < _SMALL_END
    mid = x < _ERFC_ZERO  # False for NaN, as is near
    mid &= x > -_ERF_ONE
    mid ^= near
    index = np.flatnonzero(near)
    if index.size:
        rows = list(work[:, :index.size])
        out[index] = _erfc_small(np.take(x, index, out=rows[_X_ROW], mode="clip"), rows)
    index = np.flatnonzero(mid)
    if index.size:
        rows = list(work[:, :index.size])
        xm = np.take(x, index, out=rows[_X_ROW], mode="clip")
        e = _erfc_mid(np.abs(xm, out=rows[_ABS_ROW]), rows, gather)
        np.subtract(2.0, e, out=e, where=xm < 0)  # erfc(-a) = 2 - erfc(a)
        out[index] = e
    nan = np.isnan(x)
    if nan.any():
        out[nan] = x[nan]


_Block = Callable[[_Float, _Float, _Float, _Float], None]


def _apply(block: _Block, x: Any) -> Any:
    """block (on 1-d float64 arrays) applied to x as the module docstring describes."""
    if isinstance(x, (float, int)) and not isinstance(x, np.generic):  # a Python number
        value, out = np.array([float(x)]), np.empty(1)
        with np.errstate(all="ignore"):
            block(value, out, np.empty((_ROWS, 1)), np.empty(len(_GATHERED)))
        return float(out[0])
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"erf and erfc take real numbers, not {array.dtype}")
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    with np.errstate(all="ignore"):
        flat = array.astype(np.float64, copy=False).ravel()
        out = np.empty_like(flat)
        work = np.empty((_ROWS, min(flat.size, _CHUNK)))
        gather = np.empty(len(_GATHERED) * min(flat.size, _CHUNK))
        for start in range(0, flat.size, _CHUNK):
            block(flat[start:start + _CHUNK], out[start:start + _CHUNK], work, gather)
        result = out.reshape(array.shape).astype(dtype, copy=False)
    if isinstance(x, np.generic):
        return result[()]  # a numpy scalar, as numpy's ufuncs return for one
    return result


@overload
def erf(x: float) -> float: ...
@overload
def erf(x: NDArray[Any]) -> NDArray[Any]: ...
@overload
def erf(x: ArrayLike) -> Any: ...
def erf(x: ArrayLike) -> Any:
    """The error function, erf(x) = 2/√π ∫_0^x exp(-t²) dt, elementwise.

    Odd (erf(-x) = -erf(x), and erf(-0.0) is -0.0), ±1 at ±inf, NaN at NaN.

    >>> erf(np.array([0.0, 1.0, 6.0]))  # doctest: +ELLIPSIS
    array([0.        , 0.84270079..., 1.        ])
    """
    return _apply(_erf_block, x)


@overload
def erfc(x: float) -> float: ...
@overload
def erfc(x: NDArray[Any]) -> NDArray[Any]: ...
@overload
def erfc(x: ArrayLike) -> Any: ...
def erfc(x: ArrayLike) -> Any:
    """The complementary error function, erfc(x) = 1 - erf(x), elementwise, to full relative
    precision where it is tiny (down to its underflow, at x ≈ 27.2).

    erfc(-x) = 2 - erfc(x); 0 at +inf, 2 at -inf, NaN at NaN.

    >>> erfc(np.array([0.0, 1.0, 10.0]))
    array([1.00000000e+00, 1.57299207e-01, 2.08848758e-45])
    """
    return _apply(_erfc_block, x)
