import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

// A test oracle for the Go archive reader: Java's own zip and properties
// readers. For each archive named, prints one line per
// META-INF/maven/GROUP/ARTIFACT/pom.properties in it or in an archive it
// holds (one level):
//   PROPS <archive> <groupId>:<artifactId>@<version>
public class PomProps {
  static void scan(String where, InputStream in, int depth) throws IOException {
    ZipInputStream z = new ZipInputStream(in);
    for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
      String n = e.getName();
      if (n.matches("META-INF/maven/[^/]+/[^/]+/pom\\.properties")) {
        Properties p = new Properties();
        p.load(new ByteArrayInputStream(z.readAllBytes()));
        System.out.println("PROPS " + where + " " + p.getProperty("groupId") + ":" + p.getProperty("artifactId") + "@" + p.getProperty("version"));
      } else if (depth == 0 && !e.isDirectory() && n.toLowerCase().matches(".*\\.(jar|war|ear)")) {
        scan(where, new ByteArrayInputStream(z.readAllBytes()), 1);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    for (String path : args) {
      try (InputStream in = new FileInputStream(path)) {
        scan(path, in, 0);
      }
    }
  }
}
