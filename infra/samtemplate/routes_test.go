package samtemplate

import (
	"slices"
	"testing"

	"mobilepush/shared/httpapi"
)

// TestTemplateRoutesMatch keeps template.yaml's HTTP API events in step
// with routes.go: every route is wired to the function that serves it
// (validate routes to ValidateFunction, the rest to RegisterFunction).
func TestTemplateRoutesMatch(t *testing.T) {
	wired := map[string]string{} // "METHOD /path" -> function
	resources := node(template(t), "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		events := node(node(res, "Properties"), "Events")
		for j := 0; events != nil && j+1 < len(events.Content); j += 2 {
			ev := events.Content[j+1]
			if v := node(ev, "Type"); v == nil || v.Value != "HttpApi" {
				continue
			}
			p := node(ev, "Properties")
			wired[node(p, "Method").Value+" "+node(p, "Path").Value] = name
		}
	}
	var served, inTemplate []string
	for _, r := range httpapi.Routes() {
		served = append(served, r)
		want := "RegisterFunction"
		if httpapi.IsValidateRoute(r) {
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
