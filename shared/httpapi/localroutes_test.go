package httpapi

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPILocalOnlyOperations: none of the operations openapi.yaml
// marks x-local-only is in routes.go (so neither template.yaml nor API
// Gateway serves them; localsend's TestOpenAPIDocumentsTheRoutes checks
// them against the routes mobilepush serve mounts), and the send body is
// the queue message's JSON Schema itself, not a copy.
func TestOpenAPILocalOnlyOperations(t *testing.T) {
	_, local := documentedOperations(t)
	if len(local) == 0 {
		t.Fatal("openapi.yaml marks no operation x-local-only")
	}
	for _, name := range local {
		if slices.Contains(Routes(), name) {
			t.Errorf("%s is marked x-local-only but is a route of routes.go", name)
		}
	}
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const ref = `$ref: "../enqueue/message.schema.json"`
	if !strings.Contains(string(b), ref) {
		t.Errorf("POST /v1/messages does not take its body from the JSON Schema (%s)", ref)
	}
	if _, err := os.Stat("../enqueue/message.schema.json"); err != nil {
		t.Errorf("the schema openapi.yaml refers to: %v", err)
	}
}
