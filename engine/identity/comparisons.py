"""Field comparisons at several levels, vectorised over arrays of record pairs (slots of a FeatureStore).

Level 0 of every field is "null": one side (or both) lacks the value, and that level weighs exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.identity.features import FeatureStore, Vocab, build_store, normalise
from engine.identity.nicknames import nickname_groups
from engine.identity.records import PersonRecord
from engine.identity.strings import jaro_winkler_many, within_one_edit_many

NAME_CLOSE = 0.92
NAME_SIMILAR = 0.80
CITY_CLOSE = 0.90
SWAP_CLOSE = 0.88


@dataclass(frozen=True)
class FieldSpec:
    """A compared field: its levels (0 = null), default m/u per level, and how scoring treats it."""

    name: str
    levels: tuple[str, ...]
    m: tuple[float, ...]  # prior / default m per level (index 0 unused)
    u: tuple[float, ...]  # prior / default u per level (index 0 unused)
    household: bool = False  # shared by people living together: counts towards the household cap
    location: bool = False  # where the person lives: a move changes every location field at once
    term_frequency: bool = False  # the "exact" level is adjusted for how common the value is
    conflict: str | None = None  # the level that means "clearly a different person"


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "given",
        ("null", "exact", "nickname", "close", "swapped", "partial", "similar", "different"),
        (0, 0.86, 0.02, 0.05, 0.005, 0.02, 0.02, 0.025),
        (0, 0.005, 0.001, 0.005, 0.0001, 0.005, 0.03, 0.9539),
        term_frequency=True,
        conflict="different",
    ),
    FieldSpec(
        "family",
        ("null", "exact", "close", "token", "phonetic", "similar", "different"),
        (0, 0.88, 0.05, 0.01, 0.01, 0.02, 0.03),
        (0, 0.002, 0.002, 0.0005, 0.01, 0.03, 0.9555),
        household=True,
        term_frequency=True,
    ),
    FieldSpec(
        "birth_date",
        ("null", "exact", "partial", "transposed", "day_month_off", "year_off", "different"),
        (0, 0.90, 0.02, 0.005, 0.03, 0.015, 0.03),
        (0, 0.00005, 0.001, 0.00005, 0.002, 0.0005, 0.99640),
        conflict="different",
    ),
    FieldSpec("sex", ("null", "exact", "different"), (0, 0.98, 0.02), (0, 0.5, 0.5), conflict="different"),
    FieldSpec("suffix", ("null", "exact", "different"), (0, 0.95, 0.05), (0, 0.5, 0.5), conflict="different"),
    FieldSpec(
        "postcode",
        ("null", "exact", "typo", "prefix", "different"),
        (0, 0.88, 0.04, 0.03, 0.05),
        (0, 0.002, 0.005, 0.02, 0.973),
        household=True,
        location=True,
    ),
    FieldSpec(
        "address",
        ("null", "exact", "high", "medium", "different"),
        (0, 0.80, 0.10, 0.04, 0.06),
        (0, 0.0002, 0.0005, 0.005, 0.9943),
        household=True,
        location=True,
    ),
    FieldSpec(
        "city",
        ("null", "exact", "close", "different"),
        (0, 0.88, 0.05, 0.07),
        (0, 0.01, 0.002, 0.988),
        household=True,
        location=True,
    ),
    FieldSpec(
        "phone",
        ("null", "exact", "typo", "partial", "different"),
        (0, 0.85, 0.05, 0.02, 0.08),
        (0, 0.0001, 0.0001, 0.0005, 0.9993),
        household=True,
    ),
    FieldSpec(
        "email",
        ("null", "exact", "local", "typo", "different"),
        (0, 0.85, 0.05, 0.03, 0.07),
        (0, 0.0001, 0.0002, 0.0001, 0.9996),
    ),
    FieldSpec(
        "identifier",
        ("null", "exact", "typo", "different"),
        (0, 0.92, 0.04, 0.04),
        (0, 0.0001, 0.0005, 0.9994),
        conflict="different",
    ),
)
FIELD_INDEX = {spec.name: k for k, spec in enumerate(FIELDS)}


def level_index(field: str, level: str) -> int:
    """The index of `level` in `field`'s levels."""
    return FIELDS[FIELD_INDEX[field]].levels.index(level)


def compare(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Comparison levels of every field for each pair (left[i], right[i]): int8 array (pairs, fields)."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    out = np.zeros((left.size, len(FIELDS)), dtype=np.int8)
    if left.size == 0:
        return out
    c = store.cols
    out[:, 0] = _given(store, left, right)
    out[:, 1] = _family(store, left, right)
    out[:, 2] = _birth(
        c["birth_y"][left],
        c["birth_m"][left],
        c["birth_d"][left],
        c["birth_y"][right],
        c["birth_m"][right],
        c["birth_d"][right],
    )
    out[:, 3] = _categorical(c["sex"][left], c["sex"][right])
    out[:, 4] = _categorical(c["suffix"][left], c["suffix"][right])
    out[:, 5] = _postcode(store, c["postcode"][left], c["postcode"][right])
    out[:, 6] = _address(store, left, right)
    out[:, 7] = _city(store, c["city"][left], c["city"][right])
    out[:, 8] = _phone(store, c["phone"][left], c["phone"][right])
    out[:, 9] = _email(store, left, right)
    out[:, 10] = _identifier(store, left, right)
    return out


def _levels(null: np.ndarray, conditions: list[np.ndarray]) -> np.ndarray:
    """Level = 0 where null, else 1 + the first true condition, else the last level."""
    choice = np.select(conditions, np.arange(1, len(conditions) + 1, dtype=np.int8), len(conditions) + 1)
    return np.where(null, 0, choice).astype(np.int8)


def _pair_keys(a: np.ndarray, b: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    unique, inverse = np.unique(lo * size + hi, return_inverse=True)
    return unique // size, unique % size, inverse


def similarity(vocab: Vocab, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Jaro–Winkler of vocab strings a[i], b[i] where mask[i] (0 elsewhere), once per distinct pair."""
    out = np.zeros(a.size, dtype=np.float64)
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return out
    ua, ub, inverse = _pair_keys(a[rows], b[rows], max(len(vocab), 1))
    codes, _, lengths = vocab.matrices()
    out[rows] = jaro_winkler_many(codes[ua], lengths[ua], codes[ub], lengths[ub])[inverse]
    return out


def one_edit(vocab: Vocab, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether vocab strings a[i], b[i] are within one edit, where mask[i] (False elsewhere)."""
    out = np.zeros(a.size, dtype=bool)
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return out
    codes, reverse, lengths = vocab.matrices()
    ia, ib = a[rows], b[rows]
    out[rows] = within_one_edit_many(codes[ia], reverse[ia], lengths[ia], codes[ib], reverse[ib], lengths[ib])
    return out


def _nicknames(vocab: Vocab, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros(a.size, dtype=bool)
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return out
    table = nickname_groups()
    strings = vocab.strings
    ua, ub, inverse = _pair_keys(a[rows], b[rows], max(len(vocab), 1))
    found = np.zeros(ua.size, dtype=bool)
    for k, (x, y) in enumerate(zip(ua.tolist(), ub.tolist())):
        first = table.get(strings[x])
        if first:
            second = table.get(strings[y])
            found[k] = bool(second and first & second)
    out[rows] = found[inverse]
    return out


def _given(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    c = store.cols
    ga, gb = c["given"][left], c["given"][right]
    null = (ga < 0) | (gb < 0)
    exact = ~null & (ga == gb)
    open_ = ~null & ~exact
    nick = _nicknames(store.names, ga, gb, open_)
    jw = similarity(store.names, ga, gb, open_ & ~nick)
    fa, fb = c["family"][left], c["family"][right]
    # given and family names exchanged, each allowing a typo
    both = open_ & ~nick & (jw < NAME_CLOSE) & (fa >= 0) & (fb >= 0) & (fa != fb)
    cross = similarity(store.names, ga, fb, both)
    swapped = both & (cross >= SWAP_CLOSE)
    swapped &= similarity(store.names, fa, gb, swapped) >= SWAP_CLOSE
    alts_a, alts_b = c["given_alts"][left], c["given_alts"][right]
    in_alts = ((alts_b == ga[:, None]) & (alts_b >= 0)).any(axis=1) | (
        (alts_a == gb[:, None]) & (alts_a >= 0)
    ).any(axis=1)
    initial_a, initial_b = c["given_initial_only"][left], c["given_initial_only"][right]
    codes = store.names.matrices()[0]  # row -1 is the empty string
    initial = (initial_a | initial_b) & (codes[ga, 0] == codes[gb, 0])
    partial = open_ & (in_alts | initial)
    return _levels(null, [exact, nick, jw >= NAME_CLOSE, swapped, partial, jw >= NAME_SIMILAR])


def _family(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    c = store.cols
    fa, fb = c["family"][left], c["family"][right]
    null = (fa < 0) | (fb < 0)
    exact = ~null & (fa == fb)
    open_ = ~null & ~exact
    jw = similarity(store.names, fa, fb, open_)
    ta, tb = c["family_tokens"][left], c["family_tokens"][right]
    token = ((ta == fb[:, None]) & (ta >= 0)).any(axis=1) | ((tb == fa[:, None]) & (tb >= 0)).any(axis=1)
    token |= ((ta[:, :, None] == tb[:, None, :]) & (ta[:, :, None] >= 0)).any(axis=(1, 2))
    sa, sb = c["family_soundex"][left], c["family_soundex"][right]
    phonetic = (sa >= 0) & (sa == sb)
    return _levels(null, [exact, jw >= NAME_CLOSE, open_ & token, phonetic, jw >= NAME_SIMILAR])


def _birth(
    ya: np.ndarray, ma: np.ndarray, da: np.ndarray, yb: np.ndarray, mb: np.ndarray, db: np.ndarray
) -> np.ndarray:
    ya, ma, da = ya.astype(np.int32), ma.astype(np.int32), da.astype(np.int32)
    yb, mb, db = yb.astype(np.int32), mb.astype(np.int32), db.astype(np.int32)
    null = (ya == 0) | (yb == 0)
    full = (da > 0) & (db > 0)
    exact = full & (ya == yb) & (ma == mb) & (da == db)
    # a partial date agrees when every component both sides know is equal
    partial = ~full & (ya == yb) & ((ma == 0) | (mb == 0) | (ma == mb)) & ((da == 0) | (db == 0) | (da == db))
    same_year = ya == yb
    transposed = full & same_year & (ma == db) & (da == mb) & (ma != da)
    # one of day and month differs, or the four digits MMDD are one keying slip apart (10-24 / 12-04)
    month_day = _one_digit_slip(ma * 100 + da, mb * 100 + db, 4)
    day_month_off = full & same_year & (((ma == mb) ^ (da == db)) | month_day)
    # not any one digit of the year: 1958 and 1988 on the same day and month are as likely father and son
    typo = (np.abs(ya - yb) == 1) | ((ya // 10 == yb // 10) & (ya != yb))
    year_off = full & (ma == mb) & (da == db) & typo
    return _levels(null, [exact, partial, transposed, day_month_off, year_off])


def _one_digit_slip(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """Whether the `width`-digit numbers a and b differ by one digit or by one swap of adjacent digits."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    da = (a[:, None] // powers) % 10
    db = (b[:, None] // powers) % 10
    differ = da != db
    count = differ.sum(axis=1)
    swapped = np.zeros(a.shape, dtype=bool)
    for k in range(width - 1):
        swapped |= (
            differ[:, k] & differ[:, k + 1] & (da[:, k] == db[:, k + 1]) & (da[:, k + 1] == db[:, k])
        )
    return (count == 1) | ((count == 2) & swapped)


def _categorical(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    null = (a == 0) | (b == 0)
    return _levels(null, [a == b])


def _postcode(store: FeatureStore, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    null = (a < 0) | (b < 0)
    exact = ~null & (a == b)
    open_ = ~null & ~exact
    typo = one_edit(store.codes, a, b, open_)
    codes, _, lengths = store.codes.matrices()
    prefix = open_ & (lengths[a] >= 4) & (lengths[b] >= 4) & (codes[a, :3] == codes[b, :3]).all(axis=1)
    return _levels(null, [exact, typo, prefix])


def _address(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    c = store.cols
    na, nb = c["address_len"][left].astype(np.int32), c["address_len"][right].astype(np.int32)
    null = (na == 0) | (nb == 0)
    ka, kb = c["address_key"][left], c["address_key"][right]
    exact = ~null & (ka == kb)
    ta, tb = c["address"][left], c["address"][right]
    same = (ta[:, :, None] == tb[:, None, :]) & (ta[:, :, None] >= 0)
    hit = same.any(axis=2)  # token of a found in b
    shared = hit.sum(axis=1)
    generic = np.asarray(store.generic + [True], dtype=bool)[ta]  # -1 pads index the trailing True
    distinctive = (hit & ~generic).sum(axis=1)
    jaccard = shared / np.maximum(na + nb - shared, 1)
    return _levels(null, [exact, (jaccard >= 0.6) & (distinctive > 0), distinctive > 0])


def _city(store: FeatureStore, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    null = (a < 0) | (b < 0)
    exact = ~null & (a == b)
    jw = similarity(store.places, a, b, ~null & ~exact)
    return _levels(null, [exact, jw >= CITY_CLOSE])


def _phone(store: FeatureStore, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    null = (a < 0) | (b < 0)
    exact = ~null & (a == b)
    open_ = ~null & ~exact
    typo = one_edit(store.codes, a, b, open_)
    _, reverse, lengths = store.codes.matrices()
    partial = open_ & (lengths[a] >= 7) & (lengths[b] >= 7) & (reverse[a, :7] == reverse[b, :7]).all(axis=1)
    return _levels(null, [exact, typo, partial])


def _email(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    c = store.cols
    a, b = c["email"][left], c["email"][right]
    null = (a < 0) | (b < 0)
    exact = ~null & (a == b)
    open_ = ~null & ~exact
    la, lb = c["email_local"][left], c["email_local"][right]
    local = open_ & (la == lb)
    typo = one_edit(store.codes, a, b, open_ & ~local)
    return _levels(null, [exact, local, typo])


def _identifier(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    c = store.cols
    sa, sb = c["id_system"][left], c["id_system"][right]
    va, vb = c["id_value"][left], c["id_value"][right]
    shared = np.zeros(left.size, dtype=bool)
    exact = np.zeros(left.size, dtype=bool)
    typo = np.zeros(left.size, dtype=bool)
    for i in range(sa.shape[1]):
        for j in range(sb.shape[1]):
            same_system = (sa[:, i] >= 0) & (sa[:, i] == sb[:, j])
            if not same_system.any():
                continue
            shared |= same_system
            equal = same_system & (va[:, i] == vb[:, j])
            exact |= equal
            slip = one_edit(store.codes, va[:, i], vb[:, j], same_system & ~equal)
            typo |= slip & ~_consecutive(store.codes, va[:, i], vb[:, j], slip)
    return _levels(~shared, [exact, typo])


def _consecutive(vocab: Vocab, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether vocab values a[i], b[i] are numbers one apart, where mask[i]: numbers handed out in sequence
    (twins' SSNs, family members' MRNs registered together), not a keying slip."""
    out = np.zeros(a.size, dtype=bool)
    strings = vocab.strings
    for row in np.flatnonzero(mask).tolist():
        x, y = strings[a[row]], strings[b[row]]
        out[row] = x.isdigit() and y.isdigit() and abs(int(x) - int(y)) == 1
    return out


def compare_records(left: PersonRecord, right: PersonRecord) -> dict[str, str]:
    """The level of each field for one pair of records ({"given": "nickname", ...})."""
    store, slots = build_store([normalise(left), normalise(right)])
    row = compare(store, slots[:1], slots[1:])[0]
    return {spec.name: spec.levels[level] for spec, level in zip(FIELDS, row.tolist())}
