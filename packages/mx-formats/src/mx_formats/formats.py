"""Format objects: immutable, hashable descriptions of a number format.

Every format has a canonical string (``str(fmt)``) that :func:`mx_formats.parse`
accepts back, and ``bits_per_element`` after paper eq. 1: the element's own bits
plus the shared scale's bits divided by the number of elements that share it.

Block formats (MXInt, BMF, BL, the OCP formats) share one scale per block. A
block shape ``B`` has one or two extents: ``B[0]`` elements along the first
blocked axis (default the last axis) and ``B[1]`` along the second (default the
one before it). Scalar formats (Fixed, MiniFloat, Float32) have no block.

The shared scale of a block is held as a signed integer in ``MXArray.scales``:
the shared exponent ``s`` for MXInt and OCP formats, the shared bias ``beta``
for BMF and BL. Each block format has a symmetric legal range
``[-scale_max, scale_max]`` and one more code, ``scale_nan``, that marks a block
whose input held NaN or Inf: for exponent scales it is ``scale_max + 1`` (the
biased code of all ones, OCP's 0xFF), for bias scales it is ``-scale_max - 1``
(the most negative two's-complement code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "Format",
    "BlockFormat",
    "MXInt",
    "BMF",
    "BL",
    "OCPFormat",
    "Fixed",
    "MiniFloat",
    "Float32",
    "F32",
    "MXFP8_E4M3",
    "MXFP8_E5M2",
    "MXFP6_E3M2",
    "MXFP6_E2M3",
    "MXFP4_E2M1",
    "MXINT8",
    "OCP_FORMATS",
    "NVFP4",
    "M2XFP",
    "MetadataFormat",
    "M2XFP_ES",
    "M2XFP_EM",
]


def _check_int(owner: str, name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{owner}: {name}={value} is outside the legal range [{lo}, {hi}]")
    return value


def _normalize_block(owner: str, block) -> tuple[int, ...]:
    if isinstance(block, int) and not isinstance(block, bool):
        block = (block,)
    if not isinstance(block, (tuple, list)) or not 1 <= len(block) <= 2:
        raise ValueError(f"{owner}: block must be a tuple of one or two positive ints, got {block!r}")
    for extent in block:
        _check_int(owner, "block extent", extent, 1, 1 << 16)
    return tuple(block)


def _block_str(block: tuple[int, ...]) -> str:
    return f"({block[0]},)" if len(block) == 1 else f"({block[0]},{block[1]})"


class Format:
    """Base of every format. Subclasses are frozen dataclasses."""

    family: ClassVar[str]

    @property
    def bits_per_element(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def element_bits(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_block(self) -> bool:
        return isinstance(self, BlockFormat)


class BlockFormat(Format):
    """A format whose elements share one integer scale per block."""

    block: tuple[int, ...]

    @property
    def block_size(self) -> int:
        size = 1
        for extent in self.block:
            size *= extent
        return size

    @property
    def scale_bits(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def scale_max(self) -> int:
        """Largest legal |scale|; the legal range is symmetric."""
        return (1 << (self.scale_bits - 1)) - 1

    @property
    def scale_nan(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def bits_per_element(self) -> float:
        return self.scale_bits / self.block_size + self.element_bits


@dataclass(frozen=True)
class MXInt(BlockFormat):
    """Block floating point: one shared exponent, sign-magnitude integer elements.

    For a block with absolute maximum ``amax`` in ``[2^s, 2^(s+1))`` the shared
    exponent is ``s = floor(log2 amax)`` (from the float's bits, never from a
    float log2), clamped to ``[-(2^(e-1)-1), 2^(e-1)-1]``; an all-zero block gets
    the minimum. Each element becomes

        q = clamp(round(x * 2^(m-1-s)), -(2^m - 1), 2^m - 1),   value = q * 2^(s-m+1)

    so the element needs ``m + 1`` bits and a block of ``prod(B)`` elements costs
    ``e / prod(B) + m + 1`` bits per element (paper eq. 1; MXInt((16,2),8,7) is
    8.25). Element codes are ``q`` in ``m + 1``-bit two's complement, which makes
    MXInt((32,),8,7) the OCP MXINT8 encoding bit for bit.
    """

    block: tuple[int, ...]
    exp_bits: int
    man_bits: int
    family: ClassVar[str] = "mxint"

    def __post_init__(self):
        object.__setattr__(self, "block", _normalize_block("MXInt", self.block))
        # e <= 8 and m <= 23 keep every value and every scaling exact in float32.
        _check_int("MXInt", "exp_bits", self.exp_bits, 1, 8)
        _check_int("MXInt", "man_bits", self.man_bits, 1, 23)

    def __str__(self) -> str:
        return f"MXInt({_block_str(self.block)},{self.exp_bits},{self.man_bits})"

    @property
    def element_bits(self) -> int:
        return self.man_bits + 1

    @property
    def scale_bits(self) -> int:
        return self.exp_bits

    @property
    def scale_max(self) -> int:
        # e = 1 has the single exponent 0 (and the NaN code 1).
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def scale_nan(self) -> int:
        return self.scale_max + 1

    @property
    def mantissa_max(self) -> int:
        """Largest element magnitude ``2^m - 1``."""
        return (1 << self.man_bits) - 1


@dataclass(frozen=True)
class BMF(BlockFormat):
    """Block minifloat (Fox et al. 2021): minifloat elements sharing an exponent bias.

    Element: sign, ``E``-bit exponent code ``c``, ``M``-bit fraction ``f``; no Inf
    or NaN codes, saturating. ``c >= 1`` is ``2^(c-beta) * (1 + f/2^M)``, ``c = 0``
    is the subnormal ``2^(1-beta) * f/2^M``. The shared bias of a block is

        beta = (2^E - 1) - floor(log2 amax)

    clamped to ``[-(2^(b-1)-1), 2^(b-1)-1]`` (``b = bias_bits``; the most negative
    code marks a NaN block), so the block maximum lands in the top binade. An
    all-zero block takes the largest bias.
    """

    block: tuple[int, ...]
    exp_bits: int
    man_bits: int
    bias_bits: int
    family: ClassVar[str] = "bmf"

    def __post_init__(self):
        object.__setattr__(self, "block", _normalize_block("BMF", self.block))
        _check_int("BMF", "exp_bits", self.exp_bits, 1, 7)
        _check_int("BMF", "man_bits", self.man_bits, 0, 23)
        _check_int("BMF", "bias_bits", self.bias_bits, 2, 8)
        # exp_bits <= 7 keeps the top binade of float32 (2^127) reachable with a
        # non-negative bias; the smallest subnormal must stay within float32.
        beta_max = (1 << (self.bias_bits - 1)) - 1
        if 1 - beta_max - self.man_bits < -149:
            raise ValueError(
                f"BMF: bias_bits={self.bias_bits} with man_bits={self.man_bits} reaches below float32's "
                f"smallest subnormal 2^-149"
            )

    def __str__(self) -> str:
        return f"BMF({_block_str(self.block)},{self.exp_bits},{self.man_bits},{self.bias_bits})"

    @property
    def element_bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def scale_bits(self) -> int:
        return self.bias_bits

    @property
    def scale_nan(self) -> int:
        return -self.scale_max - 1

    @property
    def exp_code_max(self) -> int:
        return (1 << self.exp_bits) - 1


@dataclass(frozen=True)
class BL(BlockFormat):
    """Block logarithm: signed powers of two sharing an exponent bias.

    Element: sign and ``E``-bit code ``c``; ``c = 0`` is zero, ``c >= 1`` is
    ``2^(c-beta)``. Rounding to a power of two is nearest in the linear domain:
    ``|x|`` in ``[2^k, 2^(k+1))`` goes to ``2^(k+1)`` when ``|x| >= 1.5 * 2^k``
    (ties to the larger magnitude), and below the smallest power ``2^(1-beta)``
    to it when ``|x| >= 2^(-beta)``, else to zero. The shared bias puts the
    rounded block maximum ``2^k*`` on the top code: ``beta = (2^E - 1) - k*``,
    clamped to ``[-(2^(b-1)-1), 2^(b-1)-1]``; k* is capped at 127 (float32's largest
    power of two, so 1.5 * 2^127 and above saturate at 2^127).

    Worked example, BL((4,),3,8), block [0.3, -1.6, 0.05, 0.0]: amax = 1.6 lies in
    [1, 2) and 1.6 >= 1.5, so k* = 1 and beta = 7 - 1 = 6; codes reach 2^(1-6) =
    1/32 up to 2^1. 0.3 in [0.25, 0.5) is below 0.375, so 0.25 (c = 4); -1.6 ->
    -2 (c = 7); 0.05 in [1/32, 1/16) is at least 1.5/32 = 0.046875, so 1/16
    (c = 2); 0 -> c = 0. Result [0.25, -2, 0.0625, 0].
    """

    block: tuple[int, ...]
    exp_bits: int
    bias_bits: int
    family: ClassVar[str] = "bl"

    def __post_init__(self):
        object.__setattr__(self, "block", _normalize_block("BL", self.block))
        _check_int("BL", "exp_bits", self.exp_bits, 1, 7)
        _check_int("BL", "bias_bits", self.bias_bits, 2, 8)

    def __str__(self) -> str:
        return f"BL({_block_str(self.block)},{self.exp_bits},{self.bias_bits})"

    @property
    def element_bits(self) -> int:
        return 1 + self.exp_bits

    @property
    def scale_bits(self) -> int:
        return self.bias_bits

    @property
    def scale_nan(self) -> int:
        return -self.scale_max - 1

    @property
    def exp_code_max(self) -> int:
        return (1 << self.exp_bits) - 1


@dataclass(frozen=True)
class OCPFormat(BlockFormat):
    """An OCP Microscaling v1.0 format: 32 elements, one E8M0 scale.

    Scale ``X = 2^(floor(log2 amax) - emax_elem)``, its exponent clamped to
    ``[-127, 127]`` (code 0xFF = NaN block). Float elements (``elem_man_bits > 0``
    or ``elem_exp_bits > 0``) are minifloats with subnormals that saturate at
    ``elem_max`` and never produce Inf or NaN codes. MXINT8 (``elem_exp_bits = 0``)
    has 8-bit two's-complement elements ``q * 2^-6`` with ``|q| <= 127``, equal to
    MXInt((32,),8,7).
    """

    name: str
    elem_exp_bits: int
    elem_man_bits: int
    elem_bias: int
    elem_max: float
    block: tuple[int, ...] = (32,)
    family: ClassVar[str] = "ocp"

    def __str__(self) -> str:
        return self.name

    @property
    def is_int(self) -> bool:
        return self.elem_exp_bits == 0

    @property
    def element_bits(self) -> int:
        return 1 + self.elem_exp_bits + self.elem_man_bits

    @property
    def scale_bits(self) -> int:
        return 8

    @property
    def scale_nan(self) -> int:
        return 128

    @property
    def emax_elem(self) -> int:
        """Exponent of the largest power of two in the element range."""
        if self.is_int:
            return 0
        import math

        return math.frexp(self.elem_max)[1] - 1

    @property
    def elem_emin(self) -> int:
        """Exponent of the smallest normal element (``1 - bias``)."""
        return 1 - self.elem_bias


MXFP8_E4M3 = OCPFormat("MXFP8_E4M3", 4, 3, 7, 448.0)
MXFP8_E5M2 = OCPFormat("MXFP8_E5M2", 5, 2, 15, 57344.0)
MXFP6_E3M2 = OCPFormat("MXFP6_E3M2", 3, 2, 3, 28.0)
MXFP6_E2M3 = OCPFormat("MXFP6_E2M3", 2, 3, 1, 7.5)
MXFP4_E2M1 = OCPFormat("MXFP4_E2M1", 2, 1, 1, 6.0)
MXINT8 = OCPFormat("MXINT8", 0, 7, 0, 127 / 64)
OCP_FORMATS = {f.name: f for f in (MXFP8_E4M3, MXFP8_E5M2, MXFP6_E3M2, MXFP6_E2M3, MXFP4_E2M1, MXINT8)}


@dataclass(frozen=True)
class Fixed(Format):
    """Two's-complement fixed point: ``q = clamp(round(x * 2^frac), -2^(w-1), 2^(w-1)-1)``,
    value ``q * 2^-frac``. ``Fixed(8,4)`` is int8 with 4 fraction bits."""

    width: int
    frac: int
    family: ClassVar[str] = "fixed"

    def __post_init__(self):
        # width <= 24 keeps every value exact in float32.
        _check_int("Fixed", "width", self.width, 2, 24)
        _check_int("Fixed", "frac", self.frac, -100, 120)

    def __str__(self) -> str:
        return f"Fixed({self.width},{self.frac})"

    @property
    def element_bits(self) -> int:
        return self.width

    @property
    def bits_per_element(self) -> float:
        return float(self.width)


@dataclass(frozen=True)
class MiniFloat(Format):
    """Scalar minifloat: sign, ``E``-bit exponent with the given bias, ``M``-bit
    fraction, subnormals, no Inf/NaN codes, saturating at
    ``2^(2^E - 1 - bias) * (2 - 2^-M)``. ``MiniFloat(4,3,7)`` is the FP8 baseline."""

    exp_bits: int
    man_bits: int
    bias: int
    family: ClassVar[str] = "minifloat"

    def __post_init__(self):
        _check_int("MiniFloat", "exp_bits", self.exp_bits, 1, 8)
        _check_int("MiniFloat", "man_bits", self.man_bits, 0, 23)
        _check_int("MiniFloat", "bias", self.bias, -128, 255)
        top = (1 << self.exp_bits) - 1 - self.bias
        if top > 127:
            raise ValueError(f"MiniFloat: largest exponent {top} exceeds float32's 127")
        if 1 - self.bias - self.man_bits < -149:
            raise ValueError(f"MiniFloat: smallest subnormal 2^{1 - self.bias - self.man_bits} is below float32's 2^-149")

    def __str__(self) -> str:
        return f"MiniFloat({self.exp_bits},{self.man_bits},{self.bias})"

    @property
    def element_bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bits_per_element(self) -> float:
        return float(self.element_bits)

    @property
    def max_value(self) -> float:
        import math

        return math.ldexp(2.0 - 2.0**-self.man_bits, (1 << self.exp_bits) - 1 - self.bias)


@dataclass(frozen=True)
class Float32(Format):
    """IEEE float32: the type of a tensor before quantization (``f32``)."""

    family: ClassVar[str] = "f32"

    def __str__(self) -> str:
        return "f32"

    @property
    def element_bits(self) -> int:
        return 32

    @property
    def bits_per_element(self) -> float:
        return 32.0


F32 = Float32()


# --------------------------------------------------------------------------- metadata-augmented FP4
class MetadataFormat(BlockFormat):
    """FP4 E2M1 block formats with more than one shared exponent per block (issue 20).

    Their ``MXArray`` carries, next to ``scales`` (one per block) and ``elements``
    (4-bit FP4 codes ``sign << 3 | magnitude code``), either 2-bit ``meta`` per
    subgroup (M2XFP) or one float32 ``tensor_scale`` (NVFP4). Only nearest-even
    rounding is defined; blocks run along one axis. Their kernels are in
    ``metadata_kernels.py``.
    """

    meta_bits: ClassVar[int] = 0
    tensor_scale_bits: ClassVar[int] = 0

    @property
    def element_bits(self) -> int:
        return 4

    @property
    def subgroup_size(self) -> int:
        return self.block_size


def _check_1d_block(owner: str, block, allowed: str, ok) -> tuple[int, ...]:
    block = _normalize_block(owner, block)
    if len(block) != 1 or not ok(block[0]):
        raise ValueError(f"{owner}: block must be {allowed} along one axis, got {block!r}")
    return block


@dataclass(frozen=True)
class NVFP4(MetadataFormat):
    """NVIDIA's NVFP4: FP4 E2M1 elements, blocks of 16, an E4M3 scale per block and an FP32 scale per tensor.

    Per tensor: ``S = fp32(amax / (448 * 6))`` over the finite elements of the
    tensor (the float64 quotient rounded to float32 once). Per block of 16 with
    absolute maximum ``b``: the block scale ``d = e4m3(b / (6 * S))``, the exact
    quotient rounded to nearest even on the FP8 E4M3 grid (subnormals down to
    2^-9, saturating at 448; code 0x7F is NaN). Element ``k = fp4(x / (d * S))``,
    nearest even, saturating at 6. Value ``fp32(fp4[k] * d * S)`` (the exact
    product rounded once to float32: it can need up to 30 significant bits).

    Documented corner cases: ``S = 0`` (an all-zero tensor, or one whose amax is
    below 2688 * 2^-150 so that S underflows) and ``d = 0`` (a block whose scale
    rounds to zero) give zeros; a block holding NaN or Inf is a NaN block (scale
    code 0x7F) and does not enter the tensor amax, so an infinite or NaN amax never
    reaches S (``nonfinite="error"`` raises instead). A tensor of only NaN/Inf has
    S = 0 and only NaN blocks.

    Bits: 4 + 8/16 = 4.5 per element (``bits_per_element``, eq. 1 style) plus the
    32-bit tensor scale once per tensor, 32/numel more, which ``MXArray.nbytes``
    counts and ``bits_per_element`` leaves out (it does not know the tensor).
    Not idempotent: re-quantizing recomputes S from the rounded amax.
    """

    block: tuple[int, ...] = (16,)
    family: ClassVar[str] = "nvfp4"
    tensor_scale_bits: ClassVar[int] = 32

    def __post_init__(self):
        object.__setattr__(self, "block", _check_1d_block("NVFP4", self.block, "(16,)", lambda n: n == 16))

    def __str__(self) -> str:
        return "NVFP4"

    @property
    def scale_bits(self) -> int:
        return 8

    @property
    def scale_max(self) -> int:
        return 0x7E  # largest finite E4M3 code (448)

    @property
    def scale_nan(self) -> int:
        return 0x7F


M2XFP_VARIANTS = ("ES", "EM")


@dataclass(frozen=True)
class M2XFP(MetadataFormat):
    """M2XFP (metadata-augmented MXFP4, ASPLOS 2026): OCP MXFP4 blocks plus 2 bits per subgroup.

    Blocks of ``block`` elements (default 32) with an E8M0 shared exponent ``s``
    (``scales``, code 128 = NaN block), cut into subgroups of ``subgroup``
    (default 8) consecutive elements, each with a 2-bit ``meta`` code. FP4 E2M1
    elements are rounded nearest even and saturate. ``s0`` is the OCP exponent
    ``clamp(floor(log2 amax) - 2, -127, 127)`` (from the float bits; -127 for an
    all-zero block).

    ``variant="ES"`` (extra scale, for weights, chosen offline): the subgroup's
    scale is ``r * 2^s`` with ``r = 1 + meta/4`` in {1, 1.25, 1.5, 1.75}, and
    ``s = s0 + delta``, delta in {0, -1, +1} (kept within [-127, 127]). Element
    ``k = fp4(x / (r 2^s))``, value ``fp4[k] * r * 2^s``. Choice: for each delta,
    each subgroup takes the r of least squared error ``sum (x - value)^2`` of its
    elements (ties: the smaller r); the block takes the delta whose mean of the
    subgroup minima is least (ties: the order 0, -1, +1). Candidates whose values
    would exceed float32 are skipped. The errors are compared exactly (see
    ``metadata_kernels.py``), and r = 1, delta = 0 is plain MXFP4, so the block
    error is never above MXFP4's.

    ``variant="EM"`` (extra mantissa, for activations, online): ``s = s0``, and
    every element is the MXFP4 one except one per subgroup: the element of
    largest FP4 magnitude code (ties: the lowest index), whose value is taken on
    the FP6 E2M3 grid restricted to the four codes ``w, w+1, w+2, w+3`` with
    ``w = clamp(4k - 1, 0, 28)`` around its FP4 code ``k`` (the FP6 code of an FP4
    value is ``4k``): nearest even among those, ``meta = fp6 code - w``. The
    decoder finds the element again from the stored FP4 magnitude codes with the
    same rule. That element's sign bit is the sign of its FP6 value (so an FP4
    code of magnitude 0 may carry a sign). Its error is never above its FP4 one
    (code 4k is in the window), so no element is worse than in MXFP4.

    Bits: 4 + 8/block + 2/subgroup = 4.5 per element for the defaults.
    Canonical strings ``M2XFP_ES`` and ``M2XFP_EM`` for the defaults, otherwise
    ``M2XFP_ES((64,),16)``. Allowed: one blocked axis, block <= 1024 (keeps the
    exact error sums within float64), subgroup >= 2 dividing the block.
    """

    variant: str
    block: tuple[int, ...] = (32,)
    subgroup: int = 8
    family: ClassVar[str] = "m2xfp"
    meta_bits: ClassVar[int] = 2

    def __post_init__(self):
        if self.variant not in M2XFP_VARIANTS:
            raise ValueError(f"M2XFP: variant must be 'ES' (extra scale) or 'EM' (extra mantissa), got {self.variant!r}")
        block = _check_1d_block("M2XFP", self.block, "at most 1024 elements", lambda n: 2 <= n <= 1024)
        object.__setattr__(self, "block", block)
        _check_int("M2XFP", "subgroup", self.subgroup, 2, block[0])
        if block[0] % self.subgroup:
            raise ValueError(f"M2XFP: subgroup={self.subgroup} does not divide the block of {block[0]}")

    def __str__(self) -> str:
        name = f"M2XFP_{self.variant}"
        if self.block == (32,) and self.subgroup == 8:
            return name
        return f"{name}({_block_str(self.block)},{self.subgroup})"

    @property
    def scale_bits(self) -> int:
        return 8

    @property
    def scale_nan(self) -> int:
        return 128

    @property
    def subgroup_size(self) -> int:
        return self.subgroup

    @property
    def bits_per_element(self) -> float:
        return self.scale_bits / self.block_size + self.element_bits + self.meta_bits / self.subgroup


M2XFP_ES = M2XFP("ES")
M2XFP_EM = M2XFP("EM")
