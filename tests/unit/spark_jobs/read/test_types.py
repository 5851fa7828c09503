"""plan_columns, custom_schema and describe_source without Spark or PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, List, Optional, Sequence, Tuple

import pytest

from spark_jobs.read.describe import describe_source
from spark_jobs.read.types import (
    ColumnPlan,
    PgColumn,
    case_renames,
    custom_schema,
    interval_iso8601_sql,
    plan_columns,
    renames,
)
from tests.type_audit import select_list, unrepresentable_counts_sql


def numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


def col(
    base: str,
    *,
    name: str = "c",
    typmod: int = -1,
    typtype: str = "b",
    schema: str = "pg_catalog",
    element: Optional[str] = None,
    dims: int = 0,
    element_is_domain: bool = False,
) -> PgColumn:
    return PgColumn(
        name=name,
        formatted_type=base,
        base_type=base if element is None else f"_{element}",
        base_schema=schema,
        base_typmod=typmod,
        typtype=typtype,
        typcategory="A" if element else "U",
        element_type=element,
        element_schema="pg_catalog" if element else None,
        element_typtype="b" if element else None,
        element_is_domain=element_is_domain,
        dimensions=dims,
    )


def plan(column: PgColumn, **kwargs: Any) -> ColumnPlan:
    return plan_columns([column], **kwargs)[0]


@pytest.mark.parametrize(
    ("base", "spark_type"),
    [
        ("bool", "BOOLEAN"),
        ("int2", "SMALLINT"),
        ("int4", "INT"),
        ("int8", "BIGINT"),
        ("float4", "FLOAT"),
        ("float8", "DOUBLE"),
        ("text", "STRING"),
        ("varchar", "STRING"),
        ("bpchar", "STRING"),
        ("bytea", "BINARY"),
        ("oid", "BIGINT"),
    ],
)
def test_exact_types_are_read_natively(base: str, spark_type: str) -> None:
    typmod = 3 + 4 if base == "bpchar" else -1  # char(3)
    assert plan(col(base, typmod=typmod)) == ColumnPlan("c", '"c"', spark_type, "native")


def test_unsized_bpchar_is_read_through_its_output_function() -> None:
    # Spark's JDBC reader dies on unsized bpchar (OutOfMemoryError); ::text would drop blanks.
    assert plan(col("bpchar")) == ColumnPlan(
        "c", 'pg_catalog.bpcharout("c")::text AS "c"', "STRING", "bpchar-text"
    )


def test_text_types_are_read_through_the_catalog_s_output_function() -> None:
    inet = PgColumn(
        name="ip", formatted_type="inet", base_type="inet", output_function="pg_catalog.inet_out"
    )
    assert plan(inet).select_sql == 'pg_catalog.inet_out("ip")::text AS "ip"'
    hstore = PgColumn(
        name="h",
        formatted_type="hstore",
        base_type="hstore",
        base_schema="public",
        output_function='"public".hstore_out',
    )
    assert plan(hstore).select_sql == '"public".hstore_out("h")::text AS "h"'
    assert plan(col("inet")).select_sql == '"c"::text AS "c"'  # no catalog: plain ::text


def test_names_that_differ_only_in_case_are_renamed_in_order() -> None:
    names = ["ID", "id", "Id", "id__2", 'i"D']
    plans = plan_columns([col("int4", name=n) for n in names] + [col("int4", name='I"d')])
    assert [p.dataframe_name for p in plans] == ["ID", "id__3", "Id__4", "id__2", 'i"D', 'I"d__2']
    assert [p.spark_name for p in plans] == [
        "ID",
        "id__3",
        "Id__4",
        "id__2",
        "_sparkpg_col_5",
        "_sparkpg_col_6",
    ]
    assert plans[1].select_sql == '"id" AS "id__3"'
    assert renames(plans) == {"_sparkpg_col_5": 'i"D', "_sparkpg_col_6": 'I"d__2'}
    assert case_renames(plans) == {"id": "id__3", "Id": "Id__4", 'I"d': 'I"d__2'}
    assert custom_schema(plans) == (
        "`ID` INT, `id__3` INT, `Id__4` INT, `id__2` INT, `_sparkpg_col_5` INT, `_sparkpg_col_6` INT"
    )


@pytest.mark.parametrize(
    ("precision", "scale", "spark_type"),
    [
        (10, 2, "DECIMAL(10,2)"),
        (38, 0, "DECIMAL(38,0)"),
        (38, 38, "DECIMAL(38,38)"),
        (5, -2, "DECIMAL(7,0)"),  # PostgreSQL 15: rounds to hundreds
        (3, 5, "DECIMAL(5,5)"),  # PostgreSQL 15: scale above precision
    ],
)
def test_numeric_that_fits_is_a_decimal_with_nan_as_null(
    precision: int, scale: int, spark_type: str
) -> None:
    p = plan(col("numeric", typmod=numeric_typmod(precision, scale)))
    assert (p.spark_type, p.policy, p.null_when) == (
        spark_type,
        "decimal",
        "\"c\" = 'NaN'::numeric",
    )
    assert p.select_sql == 'CASE WHEN "c" = \'NaN\'::numeric THEN NULL ELSE "c" END AS "c"'


@pytest.mark.parametrize("typmod", [-1, numeric_typmod(39, 0), numeric_typmod(37, -2)])
def test_numeric_that_may_not_fit_is_exact_text(typmod: int) -> None:
    assert plan(col("numeric", typmod=typmod)) == ColumnPlan(
        "c", '"c"::text AS "c"', "STRING", "numeric-text"
    )


def test_numeric_typmod_is_decoded_like_postgresql() -> None:
    c = col("numeric", typmod=numeric_typmod(5, -2))
    assert (c.numeric_precision, c.numeric_scale) == (5, -2)
    assert col("numeric").numeric_precision is None
    assert col("int4", typmod=10).numeric_precision is None


def test_money_is_an_exact_decimal_for_every_locale() -> None:
    assert plan(col("money")) == ColumnPlan(
        "c", '"c"::numeric AS "c"', "DECIMAL(22,3)", "money-decimal"
    )


def test_dates_and_timestamps_are_native_with_documented_nulls() -> None:
    d = plan(col("date"))
    assert (d.spark_type, d.policy) == ("DATE", "date")
    assert d.null_when is not None and "isfinite" in d.null_when and "1582-10-05" in d.null_when
    for base in ("timestamp", "timestamptz"):
        p = plan(col(base))
        assert (p.spark_type, p.policy) == ("TIMESTAMP", base)
        assert p.null_when is not None and "294247-01-10 04:00:54.775807" in p.null_when
        assert p.select_sql.startswith(f"CASE WHEN {p.null_when} THEN NULL ELSE")


def test_unrepresentable_text_reads_guarded_columns_as_exact_text() -> None:
    columns = [col("date"), col("numeric", typmod=numeric_typmod(10, 2)), col("int4")]
    plans = plan_columns(columns, unrepresentable="text")
    assert [(p.spark_type, p.policy, p.null_when) for p in plans] == [
        ("STRING", "date-as-text", None),
        ("STRING", "decimal-as-text", None),
        ("INT", "native", None),
    ]


def test_unknown_unrepresentable_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of null, text"):
        plan_columns([col("date")], unrepresentable="clamp")


@pytest.mark.parametrize(
    ("base", "policy"),
    [
        ("time", "time-text"),
        ("timetz", "time-text"),
        ("bit", "bit-text"),
        ("varbit", "bit-text"),
        ("json", "json-text"),
        ("jsonb", "json-text"),
        ("uuid", "text"),
        ("xml", "text"),
        ("inet", "text"),
        ("cidr", "text"),
        ("macaddr", "text"),
        ("macaddr8", "text"),
        ("point", "text"),
        ("line", "text"),
        ("lseg", "text"),
        ("box", "text"),
        ("path", "text"),
        ("polygon", "text"),
        ("circle", "text"),
        ("tsvector", "text"),
        ("tsquery", "text"),
        ("pg_lsn", "text"),
        ("name", "text"),
        ("char", "text"),
        ("int2vector", "text"),
        ("oidvector", "text"),
        ("txid_snapshot", "text"),
        ("pg_snapshot", "text"),
        ("xid8", "text"),
        ("regclass", "text"),
    ],
)
def test_types_without_a_spark_equivalent_are_exact_text(base: str, policy: str) -> None:
    assert plan(col(base)) == ColumnPlan("c", '"c"::text AS "c"', "STRING", policy)


@pytest.mark.parametrize(
    ("typtype", "policy"),
    [("e", "enum-text"), ("c", "composite-text"), ("r", "range-text"), ("m", "range-text")],
)
def test_enums_composites_ranges_are_text(typtype: str, policy: str) -> None:
    p = plan(col("whatever", typtype=typtype, schema="public"))
    assert (p.select_sql, p.spark_type, p.policy) == ('"c"::text AS "c"', "STRING", policy)


def test_extension_types_are_text_even_with_a_builtin_name() -> None:
    assert plan(col("hstore", schema="public")).policy == "text"
    assert plan(col("int4", schema="evil")).policy == "text"


def test_interval_is_iso8601_text() -> None:
    p = plan(col("interval"))
    assert (p.spark_type, p.policy) == ("STRING", "interval-iso8601")
    assert p.select_sql == f'{interval_iso8601_sql(chr(34) + "c" + chr(34))} AS "c"'
    assert 'EXTRACT(SECOND FROM "c")' in p.select_sql and "IntervalStyle" not in p.select_sql


@pytest.mark.parametrize(
    ("element", "spark_type"),
    [
        ("int4", "ARRAY<INT>"),
        ("int8", "ARRAY<BIGINT>"),
        ("text", "ARRAY<STRING>"),
        ("varchar", "ARRAY<STRING>"),
        ("float8", "ARRAY<DOUBLE>"),
        ("bool", "ARRAY<BOOLEAN>"),
        ("bytea", "ARRAY<BINARY>"),
        ("uuid", "ARRAY<STRING>"),
    ],
)
def test_one_dimensional_arrays_of_simple_types_are_native(element: str, spark_type: str) -> None:
    p = plan(col("", element=element, dims=1))
    assert (p.spark_type, p.policy) == (spark_type, "array")
    assert p.null_when == 'pg_catalog.array_ndims("c") > 1 OR pg_catalog.array_lower("c", 1) <> 1'


def test_arrays_of_domains_are_cast_to_the_base_element_type() -> None:
    p = plan(col("", element="int4", dims=1, element_is_domain=True))
    assert p.select_sql.endswith('ELSE "c"::pg_catalog."int4"[] END AS "c"')


@pytest.mark.parametrize(
    ("element", "dims"),
    [
        ("int4", 2),
        ("numeric", 1),
        ("date", 1),
        ("timestamptz", 1),
        ("time", 1),
        ("interval", 1),
        ("bpchar", 1),
        ("money", 1),
        ("jsonb", 1),
        ("bit", 1),
    ],
)
def test_other_arrays_are_postgresql_array_text(element: str, dims: int) -> None:
    p = plan(col("", element=element, dims=dims))
    assert p == ColumnPlan("c", '"c"::text AS "c"', "STRING", "array-text")


def test_domains_plan_as_their_base_type() -> None:
    domain = PgColumn(
        name="amount",
        formatted_type="public.amount",
        base_type="numeric",
        base_typmod=numeric_typmod(12, 2),
        domain="public.amount",
    )
    assert plan(domain).spark_type == "DECIMAL(12,2)"


def test_identifiers_are_quoted_in_sql_and_in_the_custom_schema() -> None:
    plans = plan_columns(
        [col("int4", name="Mixed Case"), col("text", name="a`b"), col("uuid", name="ü 😀")]
    )
    assert select_list(plans) == '"Mixed Case", "a`b", "ü 😀"::text AS "ü 😀"'
    assert custom_schema(plans) == "`Mixed Case` INT, `a``b` STRING, `ü 😀` STRING"


def test_names_with_double_quotes_are_read_under_a_placeholder_and_renamed() -> None:
    plans = plan_columns(
        [col("int4", name="id"), col("uuid", name='say "hi"'), col("int4", name='"')]
    )
    assert [p.select_sql for p in plans] == [
        '"id"',
        '"say ""hi"""::text AS "_sparkpg_col_2"',
        '""""AS "_sparkpg_col_3"'.replace('""""AS', '"""" AS'),
    ]
    assert custom_schema(plans) == "`id` INT, `_sparkpg_col_2` STRING, `_sparkpg_col_3` INT"
    assert renames(plans) == {"_sparkpg_col_2": 'say "hi"', "_sparkpg_col_3": '"'}


def test_custom_schema_is_none_without_forced_types() -> None:
    assert custom_schema([ColumnPlan("a", '"a"', None, "native")]) is None


def test_unrepresentable_counts_sql() -> None:
    plans = plan_columns([col("int4", name="id"), col("date", name="d")])
    query = unrepresentable_counts_sql(plans, '"s"."t"')
    assert query is not None and query.startswith(
        'SELECT count(*) FILTER (WHERE NOT pg_catalog.isfinite("d")'
    )
    assert query.endswith(' AS "d" FROM "s"."t"')
    assert unrepresentable_counts_sql(plans[:1], '"s"."t"') is None


class FakeCatalog:
    """Answers describe_source's three catalog queries from canned rows; records the SQL."""

    def __init__(self, columns: List[Tuple[Any, ...]], types: List[Tuple[Any, ...]]) -> None:
        self.columns, self.types, self.queries = columns, types, []  # type: List[str]

    def __call__(self, query: str, params: Sequence[Any]) -> List[Tuple[Any, ...]]:
        assert list(params) == []
        self.queries.append(query)
        if "to_regclass" in query:
            return [(16384,)] if "missing" not in query else [(None,)]
        if "pg_attribute" in query:
            return [(16384, *row) for row in self.columns]  # attrelid first
        if "RECURSIVE closure" in query:
            return self.types
        raise AssertionError(query)


TYPES = [
    # oid, typname, nspname, typtype, typcategory, typelem, typbasetype, typtypmod, typlen, format_type,
    # output function
    (23, "int4", "pg_catalog", "b", "N", 0, 0, -1, 4, "integer", "pg_catalog.int4out"),
    (1007, "_int4", "pg_catalog", "b", "A", 23, 0, -1, -1, "integer[]", "pg_catalog.array_out"),
    (1700, "numeric", "pg_catalog", "b", "N", 0, 0, -1, -1, "numeric", "pg_catalog.numeric_out"),
    (
        90001,
        "amount",
        "public",
        "d",
        "N",
        0,
        1700,
        numeric_typmod(12, 2),
        -1,
        "amount",
        "pg_catalog.numeric_out",
    ),
    (90002, "posint", "public", "d", "N", 0, 23, -1, 4, "posint", "pg_catalog.int4out"),
    (90003, "_posint", "public", "b", "A", 90002, 0, -1, -1, "posint[]", "pg_catalog.array_out"),
    (
        22,
        "int2vector",
        "pg_catalog",
        "b",
        "A",
        21,
        0,
        -1,
        -1,
        "int2vector",
        "pg_catalog.int2vectorout",
    ),
    (21, "int2", "pg_catalog", "b", "N", 0, 0, -1, 2, "smallint", "pg_catalog.int2out"),
]


def test_describe_table_resolves_domains_arrays_and_typmods() -> None:
    catalog = FakeCatalog(
        columns=[
            ("id", 23, -1, 0, "none"),
            ("amount", 90001, -1, 0, "none"),
            ("n", 1700, numeric_typmod(10, 2), 0, "none"),
            ("grid", 1007, -1, 2, "none"),
            ("tags", 90003, -1, 1, "none"),
            ("vec", 22, -1, 0, "none"),
        ],
        types=TYPES,
    )
    columns = describe_source(catalog, '"public"."t"')
    assert [c.name for c in columns] == ["id", "amount", "n", "grid", "tags", "vec"]
    by = {c.name: c for c in columns}
    assert (by["amount"].domain, by["amount"].base_type, by["amount"].numeric_scale) == (
        "amount",
        "numeric",
        2,
    )
    assert by["n"].formatted_type == "numeric(10,2)" and by["n"].numeric_precision == 10
    assert (by["grid"].element_type, by["grid"].dimensions, by["grid"].is_array) == (
        "int4",
        2,
        True,
    )
    assert (by["tags"].element_type, by["tags"].element_is_domain) == ("int4", True)
    assert not by["vec"].is_array
    assert by["vec"].output_function == "pg_catalog.int2vectorout"
    assert by["amount"].output_function == "pg_catalog.numeric_out"  # the base type's
    assert '\'"public"."t"\'' in catalog.queries[0]  # the name is a quoted literal, not a param


class FakeQueryProbe(FakeCatalog):
    """Answers the query probe (column names, then pg_typeof) and the type closure."""

    def __call__(self, query: str, params: Sequence[Any]) -> List[Tuple[Any, ...]]:
        self.queries.append(query)
        if "row_to_json" in query:
            return [('{"_sparkpg_probe": 1, "amount": null, "ratio": null, "n": null}',)]
        if "pg_typeof" in query:
            return [(1700, 1700, 23)]
        return super().__call__(query, params)


@pytest.mark.parametrize(
    ("typmods", "spark_types"),
    [
        (None, ["STRING", "STRING"]),  # numeric without typmods: exact text
        ([numeric_typmod(12, 2), -1, -1], ["DECIMAL(12,2)", "STRING"]),
        ([numeric_typmod(5, -2), -1, -1], ["DECIMAL(7,0)", "STRING"]),
        ([numeric_typmod(12, 2)], ["STRING", "STRING"]),  # a count that does not match: ignored
    ],
)
def test_query_numeric_columns_use_the_typmods_given(
    typmods: Optional[List[int]], spark_types: List[str]
) -> None:
    columns = describe_source(FakeQueryProbe([], TYPES), "(select ...) q", query_typmods=typmods)
    assert [c.name for c in columns] == ["amount", "ratio", "n"]
    plans = plan_columns(columns)
    assert [p.spark_type for p in plans[:2]] == spark_types
    assert plans[1].select_sql.endswith('::text AS "ratio"')  # unconstrained stays exact text


def test_describe_a_missing_table_says_what_to_check() -> None:
    with pytest.raises(ValueError, match="does not exist or is not visible"):
        describe_source(FakeCatalog([], TYPES), '"public"."missing"')


def test_module_imports_on_python39_without_pyspark() -> None:
    code = "import sys, spark_jobs.read.types; assert 'pyspark' not in sys.modules; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
