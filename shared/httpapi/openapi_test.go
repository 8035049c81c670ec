package httpapi

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// documentedOperations returns the operations of openapi.yaml as
// "METHOD /path": those of the API (routes.go) and those marked
// x-local-only (served by mobilepush serve only, through Config.Extra).
func documentedOperations(t *testing.T) (api, localOnly []string) {
	t.Helper()
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			name := strings.ToUpper(method) + " " + path
			if m, _ := op.(map[string]any); m["x-local-only"] == true {
				localOnly = append(localOnly, name)
			} else {
				api = append(api, name)
			}
		}
	}
	slices.Sort(api)
	slices.Sort(localOnly)
	return api, localOnly
}

// TestOpenAPIMatchesRoutes keeps openapi.yaml and routes.go in step: every
// route is documented and every documented operation not marked
// x-local-only is a route (the local-only ones are checked against the
// local routes in localroutes_test.go).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	documented, _ := documentedOperations(t)
	var served []string
	for _, rt := range routes {
		served = append(served, rt.method+" "+rt.pattern)
	}
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Errorf("openapi.yaml and routes.go differ:\n documented: %v\n served:     %v", documented, served)
	}
}
