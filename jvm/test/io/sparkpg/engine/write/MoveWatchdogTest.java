package io.sparkpg.engine.write;

import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertTrue;

import java.net.SocketTimeoutException;
import java.sql.SQLException;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;
import org.postgresql.util.ServerErrorMessage;

/** What trips the move's watchdog (MoveWatchdog), and the failure it reports. */
public final class MoveWatchdogTest {
  public void testNoAnswerWithinTheTimeoutsTrips() {
    PSQLException timedOut = new PSQLException("The connection attempt failed.",
        PSQLState.CONNECTION_UNABLE_TO_CONNECT, new SocketTimeoutException("Read timed out"));
    assertTrue(MoveWatchdog.unanswered(timedOut), "a socket timeout of the check");
    assertTrue(MoveWatchdog.unanswered(new PSQLException("Connection attempt timed out.",
        PSQLState.CONNECTION_UNABLE_TO_CONNECT)), "a login timeout of the check (08001)");
  }

  public void testAnAnswerOfTheServerDoesNotTrip() {
    ServerErrorMessage full = new ServerErrorMessage(
        "SFATAL\0C53300\0Msorry, too many clients already\0");
    assertTrue(!MoveWatchdog.unanswered(new PSQLException(full)), "the server said no");
    assertTrue(!MoveWatchdog.unanswered(new SQLException("permission denied", "42501")),
        "an error that is not the connection's");
  }

  public void testOnlyARunningBackendIsRunning() {
    assertTrue(MoveWatchdog.running("active"), "active");
    assertTrue(MoveWatchdog.running("unknown"), "a state the check may not see");
    assertTrue(!MoveWatchdog.running("idle in transaction"), "its answer was sent");
    assertTrue(!MoveWatchdog.running("gone"), "the backend ended");
  }

  public void testTheFailureIsASocketTimeoutWhoseOutcomeFollowsThePhase() {
    WriteFailure moving = WriteFailure.unanswered(WriteFailure.MOVING, "no answer", false);
    assertEquals("moving", moving.getPhase());
    assertEquals("08006", moving.getSqlState());
    assertEquals("SocketTimeoutException", moving.getNetwork());
    assertEquals("no answer", moving.getServerMessage());
    assertTrue(!moving.outcomeUnknown(), "before the COMMIT: rolled back");
    assertTrue(WriteFailure.unanswered(WriteFailure.COMMITTING, "no answer", true).outcomeUnknown(),
        "during the COMMIT: unknown");
  }
}
