"""String similarity: Jaro–Winkler and 'within one edit' (OSA), for one pair or vectorised over many."""

from __future__ import annotations

import numpy as np


def jaro(a: str, b: str) -> float:
    """Jaro similarity of two strings (1.0 when equal, 0.0 when nothing matches)."""
    if a == b:
        return 1.0 if a else 0.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(max(la, lb) // 2 - 1, 0)
    used_b = [False] * lb
    matched_a: list[str] = []
    matched_pos_b: list[int] = []
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(lb, i + window + 1)):
            if not used_b[j] and b[j] == char:
                used_b[j] = True
                matched_a.append(char)
                matched_pos_b.append(j)
                break
    m = len(matched_a)
    if not m:
        return 0.0
    matched_b = [b[j] for j in sorted(matched_pos_b)]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b)) / 2
    return (m / la + m / lb + (m - transpositions) / m) / 3


def jaro_winkler(a: str, b: str, *, prefix_scale: float = 0.1, boost_threshold: float = 0.7) -> float:
    """Jaro–Winkler similarity (common prefix of up to 4 characters boosts scores above 0.7)."""
    score = jaro(a, b)
    if score <= boost_threshold:
        return score
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return score + prefix * prefix_scale * (1.0 - score)


def within_one_edit(a: str, b: str) -> bool:
    """Whether `b` is `a` with at most one insertion, deletion, substitution or adjacent transposition."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    prefix = 0
    while prefix < min(la, lb) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(la, lb) - prefix and a[la - 1 - suffix] == b[lb - 1 - suffix]:
        suffix += 1
    if la != lb:
        return prefix + suffix >= min(la, lb)
    if prefix + suffix >= la - 1:
        return True
    return prefix + suffix == la - 2 and a[prefix] == b[prefix + 1] and a[prefix + 1] == b[prefix]


def within_two_edits(a: str, b: str) -> bool:
    """Whether at most two insertions, deletions, substitutions or adjacent transpositions turn `a` into `b`
    (optimal string alignment distance <= 2): two keying slips."""
    if abs(len(a) - len(b)) > 2:
        return False
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
        if min(row) > 2:
            return False
        before, previous = previous, row
    return previous[-1] <= 2


def encode(strings: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Code points of `strings` as a zero-padded (n, width) uint32 matrix, and their (clipped) lengths."""
    codes = np.zeros((len(strings), width), dtype=np.uint32)
    lengths = np.zeros(len(strings), dtype=np.int16)
    for row, text in enumerate(strings):
        text = text[:width].replace("\x00", " ")  # 0 is padding
        if text:
            codes[row, : len(text)] = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        lengths[row] = len(text)
    return codes, lengths


def jaro_winkler_many(a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Jaro–Winkler of row pairs of two code matrices (as made by `encode`); float64 per row.

    Same result as `jaro_winkler` row by row. Rows are sorted by the length of the left string so each
    character position only touches the rows long enough to have it, and positions are laid out
    contiguously (position-major) for speed.
    """
    n = a.shape[0]
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    la = la.astype(np.int32)
    lb = lb.astype(np.int32)
    max_a, max_b = int(la.max()), int(lb.max())
    if max_a == 0 or max_b == 0:
        return out
    order = np.argsort(-la, kind="stable")
    la, lb = la[order], lb[order]
    at = np.ascontiguousarray(a[order, :max_a].T)
    bt = np.ascontiguousarray(b[order, :max_b].T)
    window = np.maximum(np.maximum(la, lb) // 2 - 1, 0)
    max_window = int(window.max())
    within = [window >= d for d in range(max_window + 1)]
    rows_with = np.searchsorted(-la, -np.arange(max_a), side="left")  # rows with la > i come first
    free_b = np.ones((max_b, n), dtype=bool)
    used_a = np.zeros((max_a, n), dtype=bool)
    for i in range(max_a):
        rows = int(rows_with[i])
        if rows == 0:
            break
        column = at[i, :rows]
        open_ = np.ones(rows, dtype=bool)
        for j in range(max(0, i - max_window), min(max_b, i + max_window + 1)):
            hit = column == bt[j, :rows]
            hit &= free_b[j, :rows]
            hit &= open_
            distance = abs(i - j)
            if distance:
                hit &= within[distance][:rows]
            open_ &= ~hit
            free_b[j, :rows] &= ~hit
        used_a[i, :rows] = ~open_
    used_b = ~free_b
    matches = used_a.sum(axis=0)
    width = min(max_a, max_b)
    seq_a = _matched_sequence(at, used_a, width)
    seq_b = _matched_sequence(bt, used_b, width)
    in_match = np.arange(width)[:, None] < matches[None, :]
    transpositions = ((seq_a != seq_b) & in_match).sum(axis=0) / 2.0
    result = np.zeros(n, dtype=np.float64)
    has = matches > 0
    m = matches[has].astype(np.float64)
    result[has] = (m / la[has] + m / lb[has] + (m - transpositions[has]) / m) / 3.0
    prefix_width = min(4, max_a, max_b)
    same = (at[:prefix_width] == bt[:prefix_width]) & (
        np.arange(prefix_width)[:, None] < np.minimum(la, lb)[None, :]
    )
    prefix = np.cumprod(same, axis=0).sum(axis=0)
    boost = result > 0.7
    result[boost] += prefix[boost] * 0.1 * (1.0 - result[boost])
    out[order] = result
    return out


def _matched_sequence(codes: np.ndarray, used: np.ndarray, width: int) -> np.ndarray:
    """The matched characters of each column in order, as a (width, n) matrix (0-padded)."""
    positions, columns = np.nonzero(used)
    rank = np.cumsum(used, axis=0, dtype=np.int8)[positions, columns].astype(np.int64) - 1
    keep = rank < width
    sequence = np.zeros((width, used.shape[1]), dtype=codes.dtype)
    sequence[rank[keep], columns[keep]] = codes[positions[keep], columns[keep]]
    return sequence


def common_prefix_many(a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Length of the common prefix of row pairs of two code matrices."""
    limit = np.minimum(la, lb).astype(np.int64)
    width = int(limit.max()) if limit.size else 0
    if width == 0:
        return np.zeros(la.shape[0], dtype=np.int64)
    differ = a[:, :width] != b[:, :width]
    first = np.where(differ.any(axis=1), differ.argmax(axis=1), width)
    return np.minimum(first, limit)


def within_one_edit_many(
    a: np.ndarray, ra: np.ndarray, la: np.ndarray, b: np.ndarray, rb: np.ndarray, lb: np.ndarray
) -> np.ndarray:
    """`within_one_edit` over row pairs; `ra`/`rb` are the same strings reversed (for common suffixes)."""
    la = la.astype(np.int64)
    lb = lb.astype(np.int64)
    shorter = np.minimum(la, lb)
    prefix = common_prefix_many(a, la, b, lb)
    suffix = np.minimum(common_prefix_many(ra, la, rb, lb), shorter - prefix)
    total = prefix + suffix
    equal_len = la == lb
    result = np.where(equal_len, total >= la - 1, (np.abs(la - lb) == 1) & (total >= shorter))
    candidates = np.flatnonzero(equal_len & ~result & (total == la - 2))
    if candidates.size:
        p = prefix[candidates]
        width = a.shape[1]
        ok = p + 1 < width
        rows, p = candidates[ok], p[ok]
        swapped = (a[rows, p] == b[rows, p + 1]) & (a[rows, p + 1] == b[rows, p])
        result[rows[swapped]] = True
    return result
