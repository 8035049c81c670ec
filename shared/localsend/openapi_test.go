package localsend

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"mobilepush/shared/httpapi"
)

// TestOpenAPIDocumentsTheRoutes: the operations openapi.yaml marks
// x-local-only are exactly the routes API mounts on mobilepush serve.
func TestOpenAPIDocumentsTheRoutes(t *testing.T) {
	b, err := os.ReadFile("../httpapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if m, _ := op.(map[string]any); m["x-local-only"] == true {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	for pattern := range (&API{}).Routes(httpapi.Config{Auth: tokenAuth{}}) {
		served = append(served, pattern)
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Errorf("x-local-only operations of openapi.yaml %v\n differ from the routes of localsend.API %v", documented, served)
	}
}
