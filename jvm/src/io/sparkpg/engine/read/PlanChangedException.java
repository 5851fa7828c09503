package io.sparkpg.engine.read;

import java.io.IOException;

/**
 * The source no longer is what the read was planned for: a column's type changed, or the table (a
 * column) is gone. Thrown by a partition before its COPY; Python finds it by class in the failed
 * action's cause chain and reads its fields ({@code spark_jobs/read/copy_engine.py}). Fields the
 * failure does not have are null (a dropped table has no column nor types).
 */
public final class PlanChangedException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String table;
  private final String column;
  private final String plannedType;
  private final String actualType;

  PlanChangedException(String message, String table, String column, String plannedType,
      String actualType, Throwable cause) {
    super(message, cause);
    this.table = table;
    this.column = column;
    this.plannedType = plannedType;
    this.actualType = actualType;
  }

  /** The read's label ({@code it.public.orders}). */
  public String getTable() {
    return table;
  }

  /** The source column whose type changed, or null. */
  public String getColumn() {
    return column;
  }

  /** The column's type when the read was planned ({@code bigint}), or null. */
  public String getPlannedType() {
    return plannedType;
  }

  /** The column's type now ({@code double precision}), or null. */
  public String getActualType() {
    return actualType;
  }
}
