package io.sparkpg.engine.read;

import java.io.IOException;
import org.apache.spark.sql.catalyst.InternalRow;

/**
 * Decodes the fields of one COPY row of a known {@link RowShape}: one straight line of code per
 * field, generated and compiled once per shape ({@link FieldsDecoders}). Public only because the
 * generated classes live in a class loader of their own.
 */
public interface FieldsDecoder {
  /**
   * Decode the fields of {@code message} from {@code pos} (just past the field count) into
   * {@code row}, adding one to {@code counts[column]} for each value read as NULL; returns the
   * position after the last field.
   */
  int decode(InternalRow row, byte[] message, int pos, long[] counts) throws IOException;
}
