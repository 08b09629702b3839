"""pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1 / Fig. 3)
and the binomial confidence interval Table 3 prints beside each cell.

pass@k of one task with n samples of which c pass: 1 - C(n - c, k) / C(n, k), the probability
that at least one of k samples drawn without replacement from the n passes; computed as
1 - prod_{i = n - c + 1}^{n} (1 - k / i), which avoids huge binomials. The benchmark's pass@k is
the mean over tasks. With n = 1 greedy sample pass@1 is simply the fraction of tasks passed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from codescale.errors import CodescaleError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one task from n samples with c correct (1 <= k <= n, 0 <= c <= n)."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise CodescaleError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> float:
    """pass@k of a benchmark: the mean over tasks of pass_at_k(n_i, c_i, k)."""
    if len(ns) != len(cs) or not ns:
        raise CodescaleError(f"need one (n, c) per task; got {len(ns)} n and {len(cs)} c")
    return float(np.mean([pass_at_k(n, c, k) for n, c in zip(ns, cs, strict=True)]))


def wilson_interval(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95% by default) for a proportion p observed on n trials.

    For pass@1 from one greedy sample per task, p * n tasks passed out of n: the binomial case.
    For a pass@k averaged over tasks it is applied to the mean with n = tasks, an approximation
    that ignores the (smaller) within-task sampling variance.
    """
    if n <= 0:
        return (math.nan, math.nan)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))
