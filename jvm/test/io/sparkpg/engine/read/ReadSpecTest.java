package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import org.apache.spark.sql.types.DataTypes;

/** The options of a read (ReadSpec), its columns (ColumnSpec) and the planned-type check's SQL. */
public final class ReadSpecTest {
  private static IllegalArgumentException refused(String columnJson) {
    return assertThrows(IllegalArgumentException.class, () -> Specs.column(columnJson));
  }

  public void testOptionsAreParsedWithDefaults() {
    ReadSpec spec = Specs.spec("[{\"name\": \"id\", \"kind\": \"int4\", \"expr\": \"\\\"id\\\"\"}]");
    assertEquals(Specs.URL, spec.url);
    assertEquals("secret", spec.properties.getProperty("password"));
    assertEquals("\"public\".\"t\"", spec.source);
    assertEquals(Collections.emptyList(), spec.predicates);
    assertEquals(Collections.emptyList(), spec.sessionStatements);
    assertEquals("\"public\".\"t\"", spec.label); // the source when no label is given
    assertEquals("", spec.readId);
    assertEquals(0, spec.indexOf("id"));
    assertEquals(-1, spec.indexOf("ID"));
  }

  public void testPredicatesSessionStatementsLabelAndReadId() {
    Map<String, String> o = Specs.options("[]");
    o.put("predicates", "[\"id < 10\", \"id >= 10\"]");
    o.put("sessionStatements", "[\"SET LOCAL jit = off\"]");
    o.put("label", "it.public.t");
    o.put("readId", "abc");
    ReadSpec spec = ReadSpec.parse(o);
    assertEquals(Arrays.asList("id < 10", "id >= 10"), spec.predicates);
    assertEquals(Collections.singletonList("SET LOCAL jit = off"), spec.sessionStatements);
    assertEquals("it.public.t", spec.label);
    assertEquals("abc", spec.readId);
  }

  public void testUrlAndSourceAreRequired() {
    for (String key : new String[] {"url", "source"}) {
      Map<String, String> o = Specs.options("[]");
      o.remove(key);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ReadSpec.parse(o));
      assertEquals("sparkpg copy engine: option '" + key + "' is required", e.getMessage());
    }
  }

  public void testEachColumnMustBeAnObject() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Specs.spec("[\"id\"]"));
    assertContains(e.getMessage(), "option 'columns': each entry must be a JSON object");
  }

  public void testTheSchemaIsTheDecodersTypes() {
    ReadSpec spec = Specs.spec("[{\"name\": \"b\", \"kind\": \"bool\", \"expr\": \"b\"},"
        + "{\"name\": \"o\", \"kind\": \"oid\", \"expr\": \"o\"},"
        + "{\"name\": \"n\", \"kind\": \"numeric\", \"precision\": 12, \"scale\": 2, \"expr\": \"n\"},"
        + "{\"name\": \"u\", \"kind\": \"uuid\", \"expr\": \"u\"},"
        + "{\"name\": \"tz\", \"kind\": \"timestamptz\", \"expr\": \"tz\"},"
        + "{\"name\": \"a\", \"kind\": \"array\", \"element\": \"int2\", \"expr\": \"a\"}]");
    assertEquals(DataTypes.createStructType(Arrays.asList(
        DataTypes.createStructField("b", DataTypes.BooleanType, true),
        DataTypes.createStructField("o", DataTypes.LongType, true),
        DataTypes.createStructField("n", DataTypes.createDecimalType(12, 2), true),
        DataTypes.createStructField("u", DataTypes.StringType, true),
        DataTypes.createStructField("tz", DataTypes.TimestampType, true),
        DataTypes.createStructField("a",
            DataTypes.createArrayType(DataTypes.ShortType, true), true))), spec.schema());
  }

  public void testKindAndFilterAreCaseInsensitiveWithDefaults() {
    ColumnSpec c = Specs.column("{'name': 'x', 'kind': 'INT8', 'expr': 'x'}");
    assertEquals(ColumnSpec.Kind.INT8, c.kind);
    assertEquals(ColumnSpec.Filter.NONE, c.filter);
    assertEquals(ColumnSpec.Filter.ORDERING,
        Specs.column("{'name': 'x', 'kind': 'text', 'expr': 'x', 'filter': 'Ordering'}").filter);
  }

  public void testAnUnknownKindListsTheKinds() {
    assertContains(refused("{'name': 'x', 'kind': 'money', 'expr': 'x'}").getMessage(),
        "column x: unknown kind 'money' (expected one of [bool, int2, int4, int8, oid, float4, "
            + "float8, numeric, text, bytea, uuid, date, timestamp, timestamptz, array])");
  }

  public void testAnUnknownFilterIsRefused() {
    assertEquals("column x: unknown filter 'range' (expected none, equality or ordering)",
        refused("{'name': 'x', 'kind': 'int4', 'expr': 'x', 'filter': 'range'}").getMessage());
  }

  public void testMissingOrMistypedFieldsAreNamed() {
    assertEquals("column spec x: 'expr' must be a string",
        refused("{'name': 'x', 'kind': 'int4'}").getMessage());
    assertEquals("column spec null: 'name' must be a string",
        refused("{'kind': 'int4', 'expr': 'x'}").getMessage());
    assertEquals("column n: 'scale' must be an integer",
        refused("{'name': 'n', 'kind': 'numeric', 'precision': 5, 'expr': 'n'}").getMessage());
  }

  public void testNumericMustBeASparkDecimal() {
    for (String ps : new String[] {"0, 'scale': 0", "39, 'scale': 0", "5, 'scale': 6",
        "5, 'scale': -1"}) {
      assertContains(refused("{'name': 'n', 'kind': 'numeric', 'precision': " + ps
          + ", 'expr': 'n'}").getMessage(), "is not a Spark decimal type (precision 1..38");
    }
    ColumnSpec c = Specs.column("{'name': 'n', 'kind': 'numeric', 'precision': 38, 'scale': 38, "
        + "'expr': 'n'}");
    assertEquals(DataTypes.createDecimalType(38, 38), c.dataType());
  }

  public void testArraysOfCountedKindsOrArraysAreRefused() {
    for (String element : new String[] {"numeric", "date", "timestamp", "timestamptz", "array"}) {
      assertContains(refused("{'name': 'a', 'kind': 'array', 'element': '" + element
          + "', 'expr': 'a'}").getMessage(), "are not read natively; select them as text");
    }
  }

  public void testCountedKinds() {
    for (ColumnSpec.Kind k : ColumnSpec.Kind.values()) {
      boolean counted = k == ColumnSpec.Kind.NUMERIC || k == ColumnSpec.Kind.DATE
          || k == ColumnSpec.Kind.TIMESTAMP || k == ColumnSpec.Kind.TIMESTAMPTZ
          || k == ColumnSpec.Kind.ARRAY;
      assertEquals(counted, k.counted());
    }
  }

  public void testThePlannedTypeIsOptionalAndValidated() {
    ColumnSpec unchecked = Specs.column("{'name': 'x', 'kind': 'int8', 'expr': 'x'}");
    assertEquals(0L, unchecked.pgType);
    assertEquals(null, unchecked.pgColumn);
    ColumnSpec c = Specs.column("{'name': 'X', 'kind': 'int8', 'expr': 'x', 'pgColumn': 'x', "
        + "'pgType': 20, 'pgTypeName': 'bigint'}");
    assertEquals("x", c.pgColumn);
    assertEquals(20L, c.pgType);
    assertEquals("bigint", c.pgTypeName);
    assertEquals(4294967295L, Specs.column("{'name': 'x', 'kind': 'int8', 'expr': 'x', "
        + "'pgColumn': 'x', 'pgType': 4294967295, 'pgTypeName': 'public.big'}").pgType);
    for (String bad : new String[] {"0", "-1", "4294967296", "'20'", "2.5"}) {
      assertContains(refused("{'name': 'x', 'kind': 'int8', 'expr': 'x', 'pgColumn': 'x', "
          + "'pgType': " + bad + ", 'pgTypeName': 'bigint'}").getMessage(),
          "column x: 'pgType' must be a type oid (an integer from 1 to 4294967295)");
    }
    assertEquals("column spec x: 'pgTypeName' must be a string", refused("{'name': 'x', "
        + "'kind': 'int8', 'expr': 'x', 'pgColumn': 'x', 'pgType': 20}").getMessage());
  }

  public void testThePlannedTypeCheckIsOneProbeOfTheSource() {
    ColumnSpec i8 = Specs.column("{'name': 'v', 'kind': 'int8', 'expr': 'v', 'pgColumn': 'v', "
        + "'pgType': 20, 'pgTypeName': 'bigint'}");
    ColumnSpec quoted = Specs.column("{'name': 'q', 'kind': 'text', 'expr': 'q', "
        + "'pgColumn': 'a \\'b', 'pgType': 25, 'pgTypeName': 'text'}");
    ColumnSpec unchecked = Specs.column("{'name': 'u', 'kind': 'text', 'expr': 'u'}");
    java.util.List<ColumnSpec> checked = PlannedTypes.checked(
        new ColumnSpec[] {i8, unchecked, quoted});
    assertEquals(Arrays.asList(i8, quoted), checked);
    assertEquals("a \"b", quoted.pgColumn);
    assertEquals("SELECT pg_catalog.pg_typeof(\"v\")::oid::int8, pg_catalog.format_type("
        + "pg_catalog.pg_typeof(\"v\"), NULL), pg_catalog.pg_typeof(\"a \"\"b\")::oid::int8, "
        + "pg_catalog.format_type(pg_catalog.pg_typeof(\"a \"\"b\"), NULL) FROM (SELECT 1 AS "
        + "_sparkpg_probe) AS _sparkpg_one LEFT JOIN \"public\".\"t\" ON false",
        PlannedTypes.sql("\"public\".\"t\"", checked));
    // No column read (count()): the probe still finds a renamed or dropped source.
    assertEquals("SELECT 1 FROM (SELECT 1 AS _sparkpg_probe) AS _sparkpg_one LEFT JOIN "
        + "(SELECT 1) AS q ON false", PlannedTypes.sql("(SELECT 1) AS q",
            Collections.<ColumnSpec>emptyList()));
  }

  /** A numeric(p,s) column is also selected itself: its metadata says it still has p. */
  public void testADeclaredNumericIsProbedForItsPrecision() {
    ColumnSpec declared = Specs.column("{'name': 'n', 'kind': 'numeric', 'precision': 12, "
        + "'scale': 2, 'expr': 'n', 'pgColumn': 'n', 'pgType': 1700, "
        + "'pgTypeName': 'numeric(12,2)'}");
    ColumnSpec plain = Specs.column("{'name': 'm', 'kind': 'numeric', 'precision': 38, "
        + "'scale': 6, 'expr': 'm', 'pgColumn': 'm', 'pgType': 1700, 'pgTypeName': 'numeric'}");
    assertTrue(declared.declaredNumeric() && !plain.declaredNumeric(), "numeric(p,s) only");
    assertEquals("SELECT pg_catalog.pg_typeof(\"m\")::oid::int8, pg_catalog.format_type("
        + "pg_catalog.pg_typeof(\"m\"), NULL), pg_catalog.pg_typeof(\"n\")::oid::int8, "
        + "pg_catalog.format_type(pg_catalog.pg_typeof(\"n\"), NULL), \"n\" FROM (SELECT 1 AS "
        + "_sparkpg_probe) AS _sparkpg_one LEFT JOIN t ON false",
        PlannedTypes.sql("t", Arrays.asList(plain, declared)));
  }

  public void testATypeChangeNamesTableColumnTypesAndTheFix() {
    ColumnSpec i8 = Specs.column("{'name': 'v', 'kind': 'int8', 'expr': 'v', 'pgColumn': 'v', "
        + "'pgType': 20, 'pgTypeName': 'bigint'}");
    PlanChangedException e = PlannedTypes.typeChanged("sparkpg copy engine, it.public.t "
        + "partition 1", "it.public.t", i8, "double precision");
    assertEquals("it.public.t", e.getTable());
    assertEquals("v", e.getColumn());
    assertEquals("bigint", e.getPlannedType());
    assertEquals("double precision", e.getActualType());
    assertContains(e.getMessage(), "sparkpg copy engine, it.public.t partition 1: column \"v\" "
        + "of it.public.t was planned as bigint but is double precision now", "plan the read again");
    assertTrue(e instanceof java.io.IOException, "a reader's next() may throw it");
  }
}
