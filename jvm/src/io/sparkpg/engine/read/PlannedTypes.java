package io.sparkpg.engine.read;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The check each partition runs in its transaction before its COPY: the source's columns still
 * have the types the read was planned with (the decoder reads the bytes of the planned type, so
 * another type would decode to wrong values). One catalog-only query: the source joined
 * {@code ON false} to one row, so PostgreSQL plans it but reads no row of it, and the
 * ACCESS SHARE lock it takes keeps the table's definition until the COPY in the same
 * transaction has run.
 */
final class PlannedTypes {
  /** Server SQLSTATEs of a source that lost a table or a column since planning. */
  private static final String UNDEFINED_TABLE = "42P01";
  private static final String UNDEFINED_COLUMN = "42703";
  private static final String ADVICE = "plan the read again (read_table or load_read again, or "
      + "re-run the job) so that it reads the source as it is now";

  private PlannedTypes() {}

  /** The columns among {@code columns} whose planned type is known (the others are unchecked). */
  static List<ColumnSpec> checked(ColumnSpec[] columns) {
    List<ColumnSpec> out = new ArrayList<>();
    for (ColumnSpec c : columns) {
      if (c.pgType != 0) {
        out.add(c);
      }
    }
    return out;
  }

  /**
   * {@code SELECT pg_typeof(col)::oid, format_type(pg_typeof(col), NULL), ... FROM (one row)
   * LEFT JOIN source ON false}: one row, the types of {@code checked}'s source columns; then each
   * {@link ColumnSpec#declaredNumeric} column itself, whose declared precision the result's
   * metadata carries (PostgreSQL passes a column's type modifier through views and subqueries).
   */
  static String sql(String source, List<ColumnSpec> checked) {
    StringBuilder sql = new StringBuilder("SELECT ");
    if (checked.isEmpty()) {
      sql.append("1");
    }
    for (int i = 0; i < checked.size(); i++) {
      String type = "pg_catalog.pg_typeof(" + quoteIdent(checked.get(i).pgColumn) + ")";
      sql.append(i == 0 ? "" : ", ").append(type).append("::oid::int8, pg_catalog.format_type(")
          .append(type).append(", NULL)");
    }
    for (ColumnSpec c : checked) {
      if (c.declaredNumeric()) {
        sql.append(", ").append(quoteIdent(c.pgColumn));
      }
    }
    return sql.append(" FROM (SELECT 1 AS _sparkpg_probe) AS _sparkpg_one LEFT JOIN ")
        .append(source).append(" ON false").toString();
  }

  /** Runs the check on {@code connection}; a difference is a {@link PlanChangedException}. */
  static void verify(Connection connection, ReadSpec spec, ColumnSpec[] columns, String where)
      throws SQLException, PlanChangedException {
    List<ColumnSpec> checked = checked(columns);
    try (Statement statement = connection.createStatement();
        ResultSet rs = statement.executeQuery(sql(spec.source, checked))) {
      rs.next();
      int declared = 2 * checked.size();
      for (int i = 0; i < checked.size(); i++) {
        ColumnSpec c = checked.get(i);
        long actual = rs.getLong(2 * i + 1);
        if (actual != c.pgType) {
          throw typeChanged(where, spec.label, c, rs.getString(2 * i + 2));
        }
        // Without its declared precision the column may hold ±Infinity, which the pushed SQL
        // of a numeric(p,s) column does not exclude.
        if (c.declaredNumeric() && rs.getMetaData().getPrecision(++declared) == 0) {
          throw typeChanged(where, spec.label, c, rs.getString(2 * i + 2));
        }
      }
    } catch (SQLException e) {
      if (UNDEFINED_TABLE.equals(e.getSQLState()) || UNDEFINED_COLUMN.equals(e.getSQLState())) {
        throw new PlanChangedException(where + ": " + spec.label + " changed after the read was "
            + "planned (" + e.getMessage() + ": a table or column it reads was renamed or "
            + "dropped); " + ADVICE, spec.label, null, null, null, e);
      }
      throw e;
    }
  }

  static PlanChangedException typeChanged(String where, String table, ColumnSpec c,
      String actual) {
    return new PlanChangedException(where + ": column " + quoteIdent(c.pgColumn) + " of " + table
        + " was planned as " + c.pgTypeName + " but is " + actual + " now (its type changed after "
        + "the read was planned; reading it would decode wrong values); " + ADVICE, table,
        c.pgColumn, c.pgTypeName, actual, null);
  }

  static String quoteIdent(String name) {
    return "\"" + name.replace("\"", "\"\"") + "\"";
  }
}
