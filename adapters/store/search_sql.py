"""Translate the engine's SearchQuery into SQL over the resource and index tables."""
from __future__ import annotations

import sqlalchemy as sa

from engine.identity.ports import GOLDEN_TAG
from engine.search import query as q
from engine.search.parameters import SearchParameter
from adapters.store.schema import (idx_date, idx_quantity, idx_reference, idx_string, idx_token, idx_uri,
                                   resources)

TABLE_BY_TYPE = {
    "token": idx_token, "string": idx_string, "date": idx_date, "reference": idx_reference,
    "quantity": idx_quantity, "number": idx_quantity, "uri": idx_uri,
}
SORT_COLUMN = {"token": "code", "string": "norm", "date": "low", "quantity": "value", "number": "value",
               "uri": "uri"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_conditions(query: q.SearchQuery, table: sa.Table = resources) -> list[sa.ColumnElement]:
    """WHERE conditions selecting current, non-deleted resources that match every clause."""
    conditions: list[sa.ColumnElement] = [table.c.res_type == query.resource_type, table.c.deleted.is_(False)]
    conditions.extend(clause_condition(clause, table) for clause in query.clauses)
    if query.resource_type == "Patient" and not _asks_for_golden(query):
        golden = sa.select(idx_token.c.pid).where(
            idx_token.c.res_type == "Patient", idx_token.c.param == "_tag", idx_token.c.code == GOLDEN_TAG["code"],
            idx_token.c.system == GOLDEN_TAG["system"])
        conditions.append(table.c.pid.not_in(golden))
    return conditions


def _asks_for_golden(query: q.SearchQuery) -> bool:
    """Golden-record Patients are left out of Patient searches unless `_tag` names their tag."""
    return any(clause.parameter.code == "_tag" and clause.modifier != "not" and any(
        isinstance(v, q.TokenValue) and v.code == GOLDEN_TAG["code"] for v in clause.values) for clause in query.clauses)


def clause_condition(clause: q.Clause, table: sa.Table) -> sa.ColumnElement:
    """The condition one AND-clause puts on the resource table alias `table`."""
    parameter = clause.parameter
    if parameter.code in ("_id", "_lastUpdated") and clause.missing is not None:
        return sa.false() if clause.missing else sa.true()  # every resource has an id and lastUpdated
    if parameter.code == "_id":
        ids = [v.code for v in clause.values if isinstance(v, q.TokenValue)]
        return table.c.res_id.not_in(ids) if clause.modifier == "not" else table.c.res_id.in_(ids)
    if parameter.code == "_lastUpdated":
        return sa.or_(*[_range_condition(v, table.c.last_updated, table.c.last_updated) for v in clause.values])
    index = TABLE_BY_TYPE[parameter.type]
    base = [index.c.res_type == parameter.resource_type, index.c.param == parameter.code]
    if clause.missing is not None:
        present = sa.select(index.c.pid).where(*base)
        return table.c.pid.not_in(present) if clause.missing else table.c.pid.in_(present)
    if clause.chains:
        per_type = []
        for chain_type, inner_clause in clause.chains:
            target = resources.alias()
            inner = sa.select(target.c.res_id).where(
                target.c.res_type == chain_type, target.c.deleted.is_(False), clause_condition(inner_clause, target))
            per_type.append(sa.and_(index.c.target_type == chain_type, index.c.target_id.in_(inner)))
        return table.c.pid.in_(sa.select(index.c.pid).where(*base, sa.or_(*per_type)))
    value_conditions = [_value_condition(parameter, clause.modifier, index, value) for value in clause.values]
    matching = sa.select(index.c.pid).where(*base, sa.or_(*value_conditions))
    if clause.modifier == "not":
        return table.c.pid.not_in(matching)
    return table.c.pid.in_(matching)


def _value_condition(parameter: SearchParameter, modifier: str | None, index: sa.Table,
                     value: q.SearchValue) -> sa.ColumnElement:
    if isinstance(value, q.TokenValue):
        parts = []
        if value.system_given:
            parts.append(index.c.system == value.system if value.system else index.c.system.is_(None))
        if value.code is not None:
            parts.append(index.c.code == value.code)
        return sa.and_(*parts) if parts else sa.true()
    if isinstance(value, q.StringValue):
        if parameter.type == "token":  # :text
            escaped = _like_escape(value.text)
            return sa.or_(index.c.display.like(f"{escaped}%", escape="\\"),
                          index.c.display.like(f"% {escaped}%", escape="\\"))
        if modifier == "exact":
            return index.c.exact == value.raw
        escaped = _like_escape(value.text)
        if modifier == "contains":
            return index.c.norm.like(f"%{escaped}%", escape="\\")
        return index.c.norm.like(f"{escaped}%", escape="\\")
    if isinstance(value, q.RangeValue):
        if parameter.type == "number":
            return _number_condition(value.prefix, value.low, value.high, (value.low + value.high) / 2,
                                     index.c.value)
        return _range_condition(value, index.c.low, index.c.high)
    if isinstance(value, q.QuantityValue):
        parts = [_number_condition(value.prefix, value.low, value.high, value.value, index.c.value)]
        if value.system:
            parts.append(index.c.system == value.system)
        if value.code:
            parts.append(sa.or_(index.c.code == value.code, index.c.unit == value.code))
        return sa.and_(*parts)
    if isinstance(value, q.ReferenceValue):
        if value.url is not None:
            return index.c.url == value.url
        parts = [index.c.target_id == value.resource_id]
        if value.resource_type:
            parts.append(index.c.target_type == value.resource_type)
        return sa.and_(*parts)
    assert isinstance(value, q.UriValue)
    if modifier == "below":
        return index.c.uri.like(f"{_like_escape(value.uri)}%", escape="\\")
    if modifier == "above":
        prefixes = [value.uri[:i] for i in range(1, len(value.uri) + 1)]
        return index.c.uri.in_(prefixes)
    return index.c.uri == value.uri


def _range_condition(value: q.RangeValue, low: sa.ColumnElement, high: sa.ColumnElement) -> sa.ColumnElement:
    contained = sa.and_(low >= value.low, high <= value.high)
    prefix = value.prefix
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return sa.not_(contained)
    if prefix == "gt":
        return high > value.high
    if prefix == "lt":
        return low < value.low
    if prefix == "ge":
        return sa.or_(high > value.high, contained)
    if prefix == "le":
        return sa.or_(low < value.low, contained)
    if prefix == "sa":
        return low > value.high
    if prefix == "eb":
        return high < value.low
    return sa.and_(low <= value.high, high >= value.low)  # ap: overlaps the widened range


def _number_condition(prefix: str, low: float, high: float, exact: float, column: sa.ColumnElement) -> sa.ColumnElement:
    if prefix in ("eq", "ap"):
        return sa.and_(column >= low, column < high) if prefix == "eq" else sa.and_(column >= low, column <= high)
    if prefix == "ne":
        return sa.or_(column < low, column >= high)
    if prefix in ("gt", "sa"):
        return column > exact
    if prefix in ("lt", "eb"):
        return column < exact
    if prefix == "ge":
        return column >= exact
    return column <= exact  # le


def sort_expressions(query: q.SearchQuery, table: sa.Table = resources) -> list[sa.ColumnElement]:
    """ORDER BY terms for `_sort` (nulls last), ending with a stable tie-breaker."""
    terms: list[sa.ColumnElement] = []
    for key in query.sort:
        parameter = key.parameter
        if parameter.code == "_id":
            column = table.c.res_id
        elif parameter.code == "_lastUpdated":
            column = table.c.last_updated
        else:
            index = TABLE_BY_TYPE[parameter.type]
            name = SORT_COLUMN[parameter.type]
            aggregate = sa.func.max(index.c[name]) if key.descending else sa.func.min(index.c[name])
            column = (sa.select(aggregate)
                      .where(index.c.pid == table.c.pid, index.c.param == parameter.code)
                      .scalar_subquery())
        terms.append(column.desc().nulls_last() if key.descending else column.asc().nulls_last())
    terms.append(table.c.pid.asc())
    return terms
