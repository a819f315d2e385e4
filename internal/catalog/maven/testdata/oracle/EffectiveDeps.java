import java.io.File;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.maven.model.Dependency;
import org.apache.maven.model.Model;
import org.apache.maven.model.Parent;
import org.apache.maven.model.Repository;
import org.apache.maven.model.building.DefaultModelBuilderFactory;
import org.apache.maven.model.building.DefaultModelBuildingRequest;
import org.apache.maven.model.building.FileModelSource;
import org.apache.maven.model.building.ModelBuildingException;
import org.apache.maven.model.building.ModelBuildingRequest;
import org.apache.maven.model.building.ModelSource2;
import org.apache.maven.model.io.xpp3.MavenXpp3Reader;
import org.apache.maven.model.resolution.ModelResolver;
import org.apache.maven.model.resolution.UnresolvableModelException;

// A test oracle for the Go pom reader: Maven's own model builder (from
// Debian's maven packages), run offline on the poms named on the command
// line. Parents come from relativePath or, like imported BOMs, from the
// other poms given (by coordinates); nothing is fetched. Output, one line
// per dependency of each pom's effective model:
//   DEP <pom> <groupId>:<artifactId>:<version>:<scope>:<optional>
// or, when Maven cannot build the model:
//   ERROR <pom> <first problem>
public class EffectiveDeps {
  static Map<String, File> byCoord = new HashMap<>();

  static class Local implements ModelResolver {
    public ModelSource2 resolveModel(String g, String a, String v) throws UnresolvableModelException {
      File f = byCoord.get(g + ":" + a + ":" + v);
      if (f == null) {
        throw new UnresolvableModelException("not among the poms given", g, a, v);
      }
      return new FileModelSource(f);
    }
    public ModelSource2 resolveModel(Parent p) throws UnresolvableModelException {
      return resolveModel(p.getGroupId(), p.getArtifactId(), p.getVersion());
    }
    public ModelSource2 resolveModel(Dependency d) throws UnresolvableModelException {
      return resolveModel(d.getGroupId(), d.getArtifactId(), d.getVersion());
    }
    public void addRepository(Repository r) {}
    public void addRepository(Repository r, boolean replace) {}
    public ModelResolver newCopy() { return this; }
  }

  public static void main(String[] args) throws Exception {
    for (String path : args) {
      try (java.io.Reader r = org.codehaus.plexus.util.ReaderFactory.newXmlReader(new File(path))) {
        Model raw = new MavenXpp3Reader().read(r, false);
        String g = raw.getGroupId(), v = raw.getVersion();
        if (raw.getParent() != null) {
          if (g == null) g = raw.getParent().getGroupId();
          if (v == null) v = raw.getParent().getVersion();
        }
        byCoord.putIfAbsent(g + ":" + raw.getArtifactId() + ":" + v, new File(path));
      }
    }
    for (String path : args) {
      DefaultModelBuildingRequest req = new DefaultModelBuildingRequest();
      req.setPomFile(new File(path));
      req.setValidationLevel(ModelBuildingRequest.VALIDATION_LEVEL_MINIMAL);
      req.setProcessPlugins(false);
      req.setTwoPhaseBuilding(false);
      req.setSystemProperties(new Properties());
      req.setModelResolver(new Local());
      Model m;
      try {
        m = new DefaultModelBuilderFactory().newInstance().build(req).getEffectiveModel();
      } catch (ModelBuildingException e) {
        String msg = e.getProblems().isEmpty() ? e.getMessage() : e.getProblems().get(0).getMessage();
        System.out.println("ERROR " + path + " " + msg.replace('\n', ' '));
        continue;
      }
      for (Dependency d : m.getDependencies()) {
        System.out.println("DEP " + path + " " + d.getGroupId() + ":" + d.getArtifactId() + ":" + d.getVersion() + ":" + d.getScope() + ":" + d.isOptional());
      }
    }
  }
}
