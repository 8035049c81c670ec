package httpapi

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTemplateRoutesMatch keeps template.yaml's HTTP API events in step
// with routes.go: every route is wired to the function that serves it
// (validate routes to ValidateFunction, the rest to RegisterFunction).
func TestTemplateRoutesMatch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	wired := map[string]string{} // "METHOD /path" -> function
	resources := child(doc.Content[0], "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		events := child(child(res, "Properties"), "Events")
		for j := 0; events != nil && j+1 < len(events.Content); j += 2 {
			ev := events.Content[j+1]
			if v := child(ev, "Type"); v == nil || v.Value != "HttpApi" {
				continue
			}
			p := child(ev, "Properties")
			wired[child(p, "Method").Value+" "+child(p, "Path").Value] = name
		}
	}
	var served, inTemplate []string
	for _, rt := range routes {
		r := rt.method + " " + rt.pattern
		served = append(served, r)
		want := "RegisterFunction"
		if IsValidateRoute(r) {
			want = "ValidateFunction"
		}
		if got := wired[r]; got != want {
			t.Errorf("%s is wired to %q, want %s", r, got, want)
		}
	}
	for r := range wired {
		inTemplate = append(inTemplate, r)
	}
	slices.Sort(served)
	slices.Sort(inTemplate)
	if !slices.Equal(served, inTemplate) {
		t.Errorf("template routes %v\n differ from routes.go %v", inTemplate, served)
	}
}

// child returns the value of key in mapping node n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
