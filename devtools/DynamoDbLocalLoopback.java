import java.io.InputStream;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to 127.0.0.1 only.
 *
 * DynamoDB Local has no bind-address option and listens on every interface, which exposes an
 * unauthenticated database to the network. Its Jetty server is a private field of
 * DynamoDBProxyServer, so this launcher reaches in before start() and pins each connector to the
 * loopback address. Run it with Java's single-file source launcher and DynamoDB Local's jars on
 * the class path; it takes DynamoDB Local's own arguments ("-port 0" asks for an ephemeral port).
 *
 * Protocol with the parent (src/local/dynamodb-local.ts): once listening, one line
 * "DYNAMODB_LOCAL_LISTENING 127.0.0.1:PORT" on stdout. The process exits when its stdin closes,
 * so a parent that dies without calling stop() does not leave a server behind.
 */
public final class DynamoDbLocalLoopback {
  private static final String HOST = "127.0.0.1";
  private static final String READY = "DYNAMODB_LOCAL_LISTENING";

  private DynamoDbLocalLoopback() {}

  public static void main(String[] args) throws Exception {
    // DynamoDB Local's parser rejects port 0, so hand it a placeholder and set 0 on the
    // connectors ourselves; the placeholder is never bound because the connector port is replaced.
    boolean ephemeral = false;
    String[] forwarded = args.clone();
    for (int i = 0; i + 1 < forwarded.length; i++) {
      if (forwarded[i].equals("-port") && forwarded[i + 1].equals("0")) {
        forwarded[i + 1] = "8000";
        ephemeral = true;
      }
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(forwarded);
    if (proxy == null) {
      // -help and -version print and return no server.
      return;
    }
    Server jetty = jettyOf(proxy);
    List<ServerConnector> connectors = new ArrayList<>();
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof ServerConnector serverConnector) {
        serverConnector.setHost(HOST);
        if (ephemeral) {
          serverConnector.setPort(0);
        }
        connectors.add(serverConnector);
      } else {
        // A connector type we cannot pin could listen on every interface: refuse to start.
        throw new IllegalStateException("unexpected Jetty connector " + connector.getClass().getName());
      }
    }
    if (connectors.isEmpty()) {
      throw new IllegalStateException("DynamoDB Local's Jetty server has no connector");
    }

    watchStdin(proxy);
    proxy.start();

    StringBuilder line = new StringBuilder(READY);
    for (ServerConnector connector : connectors) {
      line.append(' ').append(HOST).append(':').append(connector.getLocalPort());
    }
    System.out.println(line);
    System.out.flush();
    proxy.join();
  }

  private static Server jettyOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    return (Server) field.get(proxy);
  }

  private static void watchStdin(DynamoDBProxyServer proxy) {
    Thread watcher = new Thread(() -> {
      InputStream in = System.in;
      byte[] buffer = new byte[256];
      try {
        while (in.read(buffer) >= 0) {
          // Input is ignored; only end-of-stream matters.
        }
      } catch (Exception ignored) {
        // A broken pipe means the parent is gone, the same as end-of-stream.
      }
      shutdown(proxy);
    }, "stdin-watcher");
    watcher.setDaemon(true);
    watcher.start();
  }

  private static void shutdown(DynamoDBProxyServer proxy) {
    // Jetty's stop can wait on in-flight requests; never let that keep an orphan alive.
    Thread deadline = new Thread(() -> {
      try {
        Thread.sleep(5_000);
      } catch (InterruptedException ignored) {
        // Interrupted means the orderly stop finished first.
      }
      Runtime.getRuntime().halt(1);
    }, "shutdown-deadline");
    deadline.setDaemon(true);
    deadline.start();
    int status = 0;
    try {
      proxy.stop();
    } catch (Exception e) {
      System.err.println("DynamoDB Local stop failed: " + e);
      status = 1;
    }
    System.exit(status);
  }
}
