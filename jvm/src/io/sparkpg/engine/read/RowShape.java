package io.sparkpg.engine.read;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The rows one COPY sends and how the reader takes them: the decoded {@code fields} (the scan's
 * schema), where each field's unrepresentable values are counted ({@code fieldCountsInto}: a
 * column index of the read, or -1), then {@code tallies} trailing int8 fields, each a number of
 * values read as NULL that the reader adds to column {@code talliesInto[i]} (a pushed aggregate
 * counts, in PostgreSQL, the values it left out). {@code checked}: the source columns whose planned
 * types each partition verifies before its COPY.
 */
final class RowShape implements Serializable {
  private static final long serialVersionUID = 1L;

  final ColumnSpec[] fields;
  final int[] fieldCountsInto;
  final int[] talliesInto;
  final ColumnSpec[] checked;

  RowShape(ColumnSpec[] fields, int[] fieldCountsInto, int[] talliesInto, ColumnSpec[] checked) {
    this.fields = fields;
    this.fieldCountsInto = fieldCountsInto;
    this.talliesInto = talliesInto;
    this.checked = checked;
  }

  /** The read's columns {@code columns} (indexes), as they are. */
  static RowShape plain(ReadSpec spec, int[] columns) {
    ColumnSpec[] fields = new ColumnSpec[columns.length];
    int[] into = new int[columns.length];
    for (int i = 0; i < columns.length; i++) {
      fields[i] = spec.columns.get(columns[i]);
      into[i] = fields[i].kind.counted() ? columns[i] : -1;
    }
    return new RowShape(fields, into, new int[0], fields);
  }

  StructType schema() {
    StructField[] out = new StructField[fields.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = new StructField(fields[i].name, fields[i].dataType(), true, Metadata.empty());
    }
    return new StructType(out);
  }

  /** The read's columns whose values read as NULL this shape counts, ascending, once each. */
  int[] countedColumns() {
    List<Integer> out = new ArrayList<>();
    for (int[] into : new int[][] {fieldCountsInto, talliesInto}) {
      for (int c : into) {
        if (c >= 0 && !out.contains(c)) {
          out.add(c);
        }
      }
    }
    java.util.Collections.sort(out);
    int[] sorted = new int[out.size()];
    for (int i = 0; i < sorted.length; i++) {
      sorted[i] = out.get(i);
    }
    return sorted;
  }
}
