package blueprint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vampCorpus is Vamp's own reader test data (../shared/reference/vamp-model beside the clone;
// CI has it there). In a clone without it, TestVampConformance says so plainly and passes,
// unless CI=true, where the corpus must be present.
func vampCorpus(t *testing.T) (string, bool) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "reference", "vamp-model")
	if _, err := os.Stat(filepath.Join(corpus, "testdata", "blueprint")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Vamp's reader corpus is absent at %s (CI must have ../shared beside the clone): %v", corpus, err)
		}
		t.Logf("THE VAMP CORPUS IS ABSENT: %s does not exist, so the conformance check against Vamp's reader tests did not run (CI runs it).", corpus)
		return "", false
	}
	return corpus, true
}

// vampExpectations is taken from Vamp's reader specs (spec/BlueprintReaderSpec.scala,
// BreedReaderSpec.scala, GatewayReaderSpec.scala, SlaReaderSpec.scala): each file is valid ("")
// or must fail with the named notification. Files whose test Vamp commented out are read the way
// the commented test says (all valid: dots became legal in variable names).
var vampExpectations = []struct {
	file string
	want ErrorKind
	test string
}{
	{"blueprint/blueprint1.yml", "", "read the simplest YAML (name and single breed only)"},
	{"blueprint/blueprint2.yml", "", "read the gateways and parameters (Vamp's test is commented out: read as valid)"},
	{"blueprint/blueprint3.yml", "", "read the reference sla"},
	{"blueprint/blueprint4.yml", "", "read the reference sla with explicit name"},
	{"blueprint/blueprint5.yml", "", "read the reference sla with escalations"},
	{"blueprint/blueprint6.yml", "", "read the anonymous sla"},
	{"blueprint/blueprint7.yml", "", "read the anonymous sla with escalations"},
	{"blueprint/blueprint8.yml", "", "read the anonymous scale"},
	{"blueprint/blueprint9.yml", "", "read the reference scale"},
	{"blueprint/blueprint10.yml", "", "read the reference scale with explicit name parameter"},
	{"blueprint/blueprint11.yml", "", "read the reference route"},
	{"blueprint/blueprint12.yml", "", "read the route with weight"},
	{"blueprint/blueprint13.yml", "", "read the route with filter reference"},
	{"blueprint/blueprint14.yml", "", "read the route with filter references"},
	{"blueprint/blueprint15.yml", "", "read the route with anonymous filter"},
	{"blueprint/blueprint16.yml", ErrorKind("EitherReferenceOrAnonymous"), "fail on both reference and inline route declarations"},
	{"blueprint/blueprint17.yml", "", "expand the filter list"},
	{"blueprint/blueprint18.yml", "", "expand the breed"},
	{"blueprint/blueprint19.yml", "", "expand the services"},
	{"blueprint/blueprint20.yml", "", "expand the cluster"},
	{"blueprint/blueprint21.yml", "", "expand the more complex blueprint (Vamp's test is commented out: read as valid)"},
	{"blueprint/blueprint22.yml", "", "validate gateways for inline breeds - valid case"},
	{"blueprint/blueprint23.yml", ErrorKind("UnresolvedGatewayPortError"), "validate gateways for inline breeds - no cluster"},
	{"blueprint/blueprint24.yml", ErrorKind("UnresolvedGatewayPortError"), "validate gateways for inline breeds - not a port"},
	{"blueprint/blueprint25.yml", ErrorKind("UnresolvedGatewayPortError"), "validate gateways for inline breeds - no port"},
	{"blueprint/blueprint26.yml", "", "validate environment variables for inline breeds - valid case (Vamp's test is commented out: read as valid)"},
	{"blueprint/blueprint27.yml", ErrorKind("UnresolvedEnvironmentVariableError"), "validate environment variables for inline breeds - no cluster"},
	{"blueprint/blueprint28.yml", ErrorKind("UnresolvedEnvironmentVariableError"), "validate environment variables for inline breeds - not a trait"},
	{"blueprint/blueprint29.yml", ErrorKind("UnresolvedEnvironmentVariableError"), "validate environment variables for inline breeds - no trait"},
	{"blueprint/blueprint30.yml", ErrorKind("UnresolvedEnvironmentVariableError"), "validate environment variables for setting port values"},
	{"blueprint/blueprint31.yml", ErrorKind("NonUniqueBlueprintBreedReferenceError"), "validate breed uniqueness across clusters"},
	{"blueprint/blueprint32.yml", ErrorKind("NonUniqueBlueprintBreedReferenceError"), "validate breed uniqueness across services"},
	{"blueprint/blueprint33.yml", "", "validate breed cross dependencies - no inline"},
	{"blueprint/blueprint34.yml", "", "validate breed cross dependencies - inline and valid"},
	{"blueprint/blueprint35.yml", ErrorKind("UnresolvedBreedDependencyError"), "validate breed cross dependencies - missing reference for an inline breed"},
	{"blueprint/blueprint36.yml", "", "expand the service with breed only object"},
	{"blueprint/blueprint37.yml", "", "expand the service with breed reference only object"},
	{"blueprint/blueprint38.yml", "", "read scale and route - expanded"},
	{"blueprint/blueprint39.yml", "", "read scale and route - service single element."},
	{"blueprint/blueprint40.yml", "", "read scale and route - no service just cluster."},
	{"blueprint/blueprint41.yml", "", "read scale and route - no service and compact breed."},
	{"blueprint/blueprint42.yml", "", "read scale and route - cluster contains list."},
	{"blueprint/blueprint43.yml", ErrorKind("RecursiveDependenciesError"), "fail on direct recursive dependency"},
	{"blueprint/blueprint44.yml", ErrorKind("RecursiveDependenciesError"), "fail on indirect recursive dependency"},
	{"blueprint/blueprint45.yml", "", "expand single reference filter to a list"},
	{"blueprint/blueprint46.yml", "", "expand single filter to a list"},
	{"blueprint/blueprint47.yml", "", "parse dialects"},
	{"blueprint/blueprint49.yml", ErrorKind("NoServiceError"), "not allow blueprint with no service"},
	{"blueprint/blueprint50.yml", "", "read service environment variables"},
	{"blueprint/blueprint51.yml", "", "read service environment variables for ref breed"},
	{"blueprint/blueprint52.yml", ErrorKind("UnresolvedDependencyInTraitValueError"), "not allow service override of non existing breed environment variables"},
	{"blueprint/blueprint53.yml", ErrorKind("MissingEnvironmentVariableError"), "not allow an empty service level environment variable"},
	{"blueprint/blueprint54.yml", "", "process default port type"},
	{"blueprint/blueprint56.yml", ErrorKind("UnexpectedElement"), "report not supported element 'scala'"},
	{"blueprint/blueprint57.yml", "", "read sticky route"},
	{"blueprint/blueprint58.yml", "", "read sticky instance"},
	{"blueprint/blueprint59.yml", ErrorKind("IllegalGatewayStickyValue"), "report illegal sticky value"},
	{"blueprint/blueprint60.yml", ErrorKind("IllegalName"), "report illegal cluster name"},
	{"blueprint/blueprint61.yml", "", "parse multiple port routing"},
	{"blueprint/blueprint62.yml", ErrorKind("IllegalGatewayStickyValue"), "fail on invalid sticky value"},
	{"blueprint/blueprint63.yml", "", "read sticky null"},
	{"blueprint/blueprint64.yml", "", "allow sticky http port"},
	{"blueprint/blueprint65.yml", ErrorKind("StickyPortTypeError"), "not allow sticky tcp port"},
	{"blueprint/blueprint66.yml", ErrorKind("ConditionPortTypeError"), "not allow HTTP conditions on tcp port"},
	{"blueprint/blueprint67.yml", ErrorKind("IllegalAnonymousRoutingPortMappingError"), "not allow anonymous port mapping if more than 1 port defined"},
	{"blueprint/blueprint68.yml", "", "remap anonymous routing port"},
	{"blueprint/blueprint69.yml", "", "read complex gateway"},
	{"blueprint/blueprint70.yml", ErrorKind("StickyPortTypeError"), "not allow sticky tcp gateway"},
	{"blueprint/blueprint71.yml", ErrorKind("ConditionPortTypeError"), "not allow HTTP conditions on gateway tcp port"},
	{"blueprint/blueprint72.yml", "", "read complex gateway with weights"},
	{"blueprint/blueprint73.yml", ErrorKind("GatewayRouteWeightError"), "fail on gateway weight > 100"},
	{"blueprint/blueprint74.yml", ErrorKind("DuplicateGatewayPortError"), "fail on duplicate gateway port"},
	{"blueprint/blueprint75.yml", ErrorKind("UnexpectedElement"), "fail on explicit routing port"},
	{"blueprint/blueprint76.yml", "", "read explicit gateway port"},
	{"blueprint/blueprint77.yml", ErrorKind("UnresolvedGatewayPortError"), "not allow non existing cluster routing port"},
	{"blueprint/blueprint78.yml", "", "parse weights with filter conditions and strength"},
	{"blueprint/blueprint79.yml", "", "parse service arguments"},
	{"blueprint/blueprint80.yml", "", "expand service arguments"},
	{"blueprint/blueprint81.yml", ErrorKind("InvalidArgumentValueError"), "fail on invalid privileged value"},
	{"blueprint/blueprint82.yml", "", "read virtual hosts"},
	{"blueprint/blueprint83.yml", "", "parse an empty condition as no condition"},
	{"blueprint/blueprint84.yml", "", "parse an expanded empty condition as no condition"},
	{"blueprint/blueprint85.yml", "", "not fail on non existing port if any breed reference"},
	{"blueprint/blueprint86.yml", "", "not fail on non existing environment variables if any breed reference (Vamp's test is commented out: read as valid)"},
	{"blueprint/blueprint87.yml", "", "read service with network set"},
	{"blueprint/blueprint88.yml", "", "read cluster with network set"},
	{"blueprint/blueprint89.yml", "", "read cluster and service with network set"},
	{"blueprint/blueprint90.yml", "", "read metadata"},
	{"blueprint/blueprint91.yml", "", "read a single health check in service level"},
	{"blueprint/blueprint92.yml", "", "read a list of health checks in service level"},
	{"blueprint/blueprint93.yml", "", "find a port reference in a health check in service level"},
	{"blueprint/blueprint94.yml", ErrorKind("UnresolvedPortReferenceError"), "throw an error when a port reference in a health check in service level is unresolved"},
	{"blueprint/blueprint95.yml", "", "read a single health check on service level without list definition in yaml"},
	{"blueprint/blueprint96.yml", "", "read a single health check on cluster level with a single port defined in a service"},
	{"blueprint/blueprint97.yml", "", "read a list of health checks on a cluster level with a single port defined in a service"},
	{"blueprint/blueprint98.yml", "", "read a list of health checks on a cluster level with multiple ports defined in multiple services"},
	{"blueprint/blueprint99.yml", ErrorKind("UnresolvedPortReferenceError"), "fail when reading a single health check on cluster level with a port that is not defined in any service"},
	{"blueprint/blueprint100.yml", ErrorKind("UnresolvedPortReferenceError"), "fail when reading a list of health checks on cluster level with multiple ports where only one port is defined in a service"},
	{"blueprint/blueprint101.yml", ErrorKind("UnresolvedEnvironmentVariableError"), "fail when referenced trait doesn't exists"},
	{"blueprint/blueprint102.yml", "", "expand with env variables with dots"},
	{"breed/breed1.yml", "", "read the simplest YAML"},
	{"breed/breed2.yml", "", "read the ports"},
	{"breed/breed3.yml", "", "read the environment variables and dependencies"},
	{"breed/breed4.yml", "", "read the YAML source with value expansion"},
	{"breed/breed5.yml", "", "read the YAML source with partially expanded reference dependencies"},
	{"breed/breed6.yml", "", "read the YAML source with fully expanded reference dependencies"},
	{"breed/breed7.yml", "", "read the YAML source with embedded dependencies"},
	{"breed/breed8.yml", "", "read the YAML source with expanded embedded dependencies"},
	{"breed/breed9.yml", "", "read the YAML source with embedded dependencies with dependencies"},
	{"breed/breed10.yml", ErrorKind("MissingPathValueError"), "fail on no deployable"},
	{"breed/breed11.yml", ErrorKind("MissingPortValueError"), "not fail on missing port values"},
	{"breed/breed12.yml", "", "not fail on missing environment variable values"},
	{"breed/breed13.yml", "", "not fail on non unique port name but should get the last one only"},
	{"breed/breed14.yml", "", "not fail on non unique environment variable name but should get the last one only"},
	{"breed/breed15.yml", ErrorKind("UnresolvedDependencyInTraitValueError"), "fail on unresolved dependency reference"},
	{"breed/breed16.yml", ErrorKind("UnresolvedDependencyInTraitValueError"), "fail on missing dependency environment variable"},
	{"breed/breed17.yml", ErrorKind("UnresolvedDependencyInTraitValueError"), "fail on missing dependency port"},
	{"breed/breed18.yml", ErrorKind("RecursiveDependenciesError"), "fail on direct recursive dependency"},
	{"breed/breed19.yml", ErrorKind("RecursiveDependenciesError"), "fail on indirect recursive dependency"},
	{"breed/breed20.yml", ErrorKind("MissingConstantValueError"), "fail on missing constant values"},
	{"breed/breed21.yml", ErrorKind("UnresolvedDependencyInTraitValueError"), "fail on missing dependency constant"},
	{"breed/breed22.yml", "", "resolve dependency constant"},
	{"breed/breed23.yml", "", "resolve environment variable alias"},
	{"breed/breed24.yml", "", "resolve deployable implicit (default) type and definition"},
	{"breed/breed25.yml", "", "resolve deployable schema"},
	{"breed/breed26.yml", "", "fail on invalid trait name: '.' (Vamp's test is commented out: dots became legal in environment variable names, so it is read as valid)"},
	{"breed/breed27.yml", ErrorKind("IllegalStrictName"), "fail on invalid trait name: '/'"},
	{"breed/breed28.yml", ErrorKind("IllegalName"), "fail on invalid trait name: '['"},
	{"breed/breed29.yml", "", "resolve arguments"},
	{"breed/breed30.yml", "", "expand single argument"},
	{"breed/breed31.yml", "", "expand multiple arguments"},
	{"breed/breed32.yml", ErrorKind("InvalidArgumentError"), "fail on multi key-value argument"},
	{"breed/breed33.yml", ErrorKind("InvalidArgumentError"), "fail on no argument"},
	{"breed/breed34.yml", ErrorKind("InvalidArgumentValueError"), "fail on invalid privileged value"},
	{"breed/breed35.yml", "", "resolve deployable explicit type and definition"},
	{"breed/breed36.yml", ErrorKind("InconsistentArtifactKind"), "fail on invalid kind"},
	{"breed/breed37.yml", ErrorKind("ParserError"), "fail if parser error"},
	{"breed/breed38.yml", "", "read the health checks"},
	{"breed/breed39.yml", "", "read expanded health check"},
	{"breed/breed40.yml", ErrorKind("UnresolvedPortReferenceError"), "throw an error when a port reference in a health check is unresolved"},
	{"breed/breed41.yml", ErrorKind("NegativeFailuresNumberError"), "throw an error when failure number is negative"},
	{"gateway/gateway1.yml", "", "read the simplest YAML"},
	{"gateway/gateway2.yml", "", "read a deployment gateway"},
	{"gateway/gateway3.yml", ErrorKind("UnsupportedGatewayNameError"), "fail on unsupported name format"},
	{"gateway/gateway4.yml", ErrorKind("StickyPortTypeError"), "fail on sticky tcp port"},
	{"gateway/gateway5.yml", "", "read route balance"},
	{"gateway/gateway6.yml", "", "read route rewrites"},
	{"gateway/gateway7.yml", "", "parse external route"},
	{"gateway/gateway8.yml", "", "parse virtual hosts"},
	{"gateway/gateway9.yml", "", "parse empty virtual hosts"},
	{"gateway/gateway10.yml", "", "expand virtual hosts"},
	{"gateway/gateway11.yml", ErrorKind("IllegalGatewayVirtualHosts"), "fail on invalid host"},
	{"gateway/gateway12.yml", "", "parse http service port"},
	{"gateway/gateway13.yml", "", "parse tcp service port"},
	{"gateway/gateway14.yml", "", "parse by default http service port"},
	{"gateway/gateway15.yml", ErrorKind("GatewayRouteWeightError"), "fail on invalid total weight != 0 or != 100"},
	{"gateway/gateway16.yml", ErrorKind("GatewayRouteWeightError"), "fail on multiple routes and invalid total weight != 0 or != 100"},
	{"gateway/gateway17.yml", "", "parse empty selector"},
	{"gateway/gateway18.yml", "", "parse null selector"},
	{"gateway/gateway19.yml", "", "parse selector"},
	{"gateway/gateway20.yml", "", "not fail if selector and routes are defined"},
	{"gateway/gateway21.yml", ErrorKind("InvalidSelectorError"), "fail if selector is invalid"},
	{"gateway/gateway22.yml", "", "parse route null selector"},
	{"gateway/gateway23.yml", "", "parse route selector"},
	{"gateway/gateway24.yml", ErrorKind("InvalidSelectorError"), "fail if route selector is invalid"},
	{"gateway/gateway25.yml", ErrorKind("RouteSelectorOnlyRouteError"), "fail if route selector is defined and path length != 1"},
	{"gateway/gateway26.yml", ErrorKind("RouteSelectorExternalTargetError"), "fail if route selector is defined for an external route target"},
	{"gateway/gateway27.yml", ErrorKind("InvalidSelectorError"), "fail if route selector is invalid regexp"},
	{"sla/sla1.yml", "", "read the simplest YAML"},
	{"sla/sla2.yml", "", "read the response time sliding window SLA with generic escalations"},
	{"sla/sla3.yml", "", "read the response time sliding window SLA with scale escalations"},
	{"sla/sla4.yml", "", "read the SLA with a group escalation"},
	{"sla/sla5.yml", "", "read the SLA with a group escalation with expansion"},
	{"sla/sla6.yml", "", "read the SLA with a nested group escalation"},
}

// vampDeviations are Vamp expectations this project knowingly does not follow, with the reason.
var vampDeviations = map[string]struct {
	got    ErrorKind
	reason string
}{
	"breed/breed13.yml": {ErrDuplicateKey, "a port given twice: Vamp keeps the last silently; a key given twice in a mapping is refused here (YAML says keys are unique, and a typo must not pass silently)"},
	"breed/breed14.yml": {ErrDuplicateKey, "an environment variable given twice: as breed13"},
}

// readVampFile reads one corpus file with the reader its folder is for.
func readVampFile(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	switch filepath.Base(filepath.Dir(path)) {
	case "blueprint":
		_, err = ReadBlueprint(doc)
	case "breed":
		_, err = ReadBreed(doc)
	case "gateway":
		_, err = ReadGateway(doc)
	case "sla":
		_, err = ReadSLA(doc)
	default:
		err = fmt.Errorf("unknown folder of %s", path)
	}
	return err
}

func errorKinds(err error) []ErrorKind {
	var errs YAMLErrors
	if !errors.As(err, &errs) {
		return nil
	}
	var out []ErrorKind
	for _, e := range errs {
		out = append(out, e.Kind)
	}
	return out
}

// TestVampConformance reads every file of Vamp's reader corpus and compares the outcome with
// Vamp's expectation: valid files are accepted, invalid ones refused for the same reason.
func TestVampConformance(t *testing.T) {
	corpus, ok := vampCorpus(t)
	if !ok {
		return
	}
	expected := map[string]ErrorKind{}
	for _, e := range vampExpectations {
		expected[e.file] = e.want
	}
	type count struct{ valid, validOK, invalid, invalidOK, deviations int }
	counts := map[string]*count{}
	for _, folder := range []string{"blueprint", "breed", "gateway", "sla"} {
		counts[folder] = &count{}
		files, err := filepath.Glob(filepath.Join(corpus, "testdata", folder, "*.yml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files in %s: %v", folder, err)
		}
		for _, path := range files {
			name := folder + "/" + filepath.Base(path)
			want, known := expected[name]
			if !known {
				t.Errorf("%s: not in the expectation table; add Vamp's expectation for it", name)
				continue
			}
			err := readVampFile(path)
			kinds := errorKinds(err)
			c := counts[folder]
			if dev, ok := vampDeviations[name]; ok {
				if !slices.Contains(kinds, dev.got) {
					t.Errorf("%s: listed as a deviation (%s) but gave %v", name, dev.reason, err)
				}
				t.Logf("%s: Vamp expects %q; knowingly not followed: %s", name, cmpOr(string(want), "valid"), dev.reason)
				if want == "" {
					c.valid++
				} else {
					c.invalid++
				}
				c.deviations++
				continue
			}
			if want == "" {
				c.valid++
				if err != nil {
					t.Errorf("%s: Vamp reads it as valid; here: %v", name, err)
				} else {
					c.validOK++
				}
				continue
			}
			c.invalid++
			switch {
			case err == nil:
				t.Errorf("%s: Vamp refuses it with %s; accepted here", name, want)
			case !slices.Contains(kinds, want):
				t.Errorf("%s: Vamp refuses it with %s; refused here for another reason: %v (%v)", name, want, kinds, err)
			default:
				c.invalidOK++
			}
		}
	}
	var summary []string
	for _, folder := range []string{"blueprint", "breed", "gateway", "sla"} {
		c := counts[folder]
		summary = append(summary, fmt.Sprintf("%s: valid accepted %d/%d, invalid refused for the same reason %d/%d, knowingly not followed %d",
			folder, c.validOK, c.valid, c.invalidOK, c.invalid, c.deviations))
	}
	t.Log("conformance with Vamp's reader: " + strings.Join(summary, "; "))
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
