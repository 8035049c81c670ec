package enqueue_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mobilepush/shared/enqueue"
	"mobilepush/shared/push"
)

// node is the part of a JSON Schema the comparison reads.
type node struct {
	Schema               string           `json:"$schema"`
	Type                 string           `json:"type"`
	Const                any              `json:"const"`
	Properties           map[string]*node `json:"properties"`
	Required             []string         `json:"required"`
	AdditionalProperties json.RawMessage  `json:"additionalProperties"`
	Items                *node            `json:"items"`
	Enum                 []string         `json:"enum"`
	Pattern              string           `json:"pattern"`
	MaxItems             *int             `json:"maxItems"`
	MaxLength            *int             `json:"maxLength"`
	Minimum              *int             `json:"minimum"`
	Maximum              *int             `json:"maximum"`
	PropertyNames        *struct {
		Not struct {
			AnyOf []struct {
				Enum    []string `json:"enum"`
				Pattern string   `json:"pattern"`
			} `json:"anyOf"`
		} `json:"not"`
	} `json:"propertyNames"`
	Examples []json.RawMessage `json:"examples"`
}

func loadSchema(t *testing.T) *node {
	t.Helper()
	var n node
	if err := json.Unmarshal(enqueue.Schema(), &n); err != nil {
		t.Fatalf("message.schema.json: %v", err)
	}
	if n.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", n.Schema)
	}
	return &n
}

// TestSchemaMatchesTheGoType walks push.Message and the schema together:
// the same properties at every level, the same required fields (the Go
// fields without omitempty/omitzero), JSON types that match the Go types,
// and closed objects.
func TestSchemaMatchesTheGoType(t *testing.T) {
	compare(t, "message", reflect.TypeFor[push.Message](), loadSchema(t))
}

func compare(t *testing.T, path string, typ reflect.Type, s *node) {
	t.Helper()
	if s == nil {
		t.Errorf("%s: not in the schema", path)
		return
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Int: "integer", reflect.Bool: "boolean",
		reflect.Slice: "array", reflect.Map: "object", reflect.Struct: "object"}[typ.Kind()]
	if s.Type != want {
		t.Errorf("%s: schema type %q, Go %s wants %q", path, s.Type, typ, want)
		return
	}
	switch typ.Kind() {
	case reflect.Slice:
		compare(t, path+"[]", typ.Elem(), s.Items)
	case reflect.Map:
		var extra node
		if err := json.Unmarshal(s.AdditionalProperties, &extra); err != nil {
			t.Errorf("%s: additionalProperties must be a schema for the values: %v", path, err)
			return
		}
		compare(t, path+"{}", typ.Elem(), &extra)
	case reflect.Struct:
		if string(s.AdditionalProperties) != "false" {
			t.Errorf("%s: additionalProperties = %s, want false (unknown fields are refused)", path, s.AdditionalProperties)
		}
		var required []string
		seen := map[string]bool{}
		for f := range typ.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s: no JSON name", path, f.Name)
				continue
			}
			seen[name] = true
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
			compare(t, path+"."+name, f.Type, s.Properties[name])
		}
		for name := range s.Properties {
			if !seen[name] {
				t.Errorf("%s.%s: in the schema, not in %s", path, name, typ)
			}
		}
		slices.Sort(required)
		got := slices.Sorted(slices.Values(s.Required))
		if !slices.Equal(got, required) {
			t.Errorf("%s: schema requires %v, the Go type %v", path, got, required)
		}
	}
}

func enumOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TestSchemaLimits checks the enumerations and limits against the Go
// constants Validate uses.
func TestSchemaLimits(t *testing.T) {
	s := loadSchema(t)
	p := s.Properties
	if p["version"].Const != float64(push.MessageVersion) {
		t.Errorf("version const %v, want %d", p["version"].Const, push.MessageVersion)
	}
	enums := []struct {
		name string
		got  []string
		want []string
	}{
		{"priority", p["priority"].Enum, enumOf(push.Priorities())},
		{"apns.push_type", p["apns"].Properties["push_type"].Enum, enumOf(push.APNsTypes())},
		{"apns.interruption_level", p["apns"].Properties["interruption_level"].Enum, enumOf(push.InterruptionLevels())},
	}
	for _, e := range enums {
		if !slices.Equal(e.got, e.want) {
			t.Errorf("%s enum %v, Go %v", e.name, e.got, e.want)
		}
	}
	ints := []struct {
		name string
		got  *int
		want int
	}{
		{"tokens.apns maxItems", p["tokens"].Properties["apns"].MaxItems, push.MaxTokens},
		{"tokens.fcm maxItems", p["tokens"].Properties["fcm"].MaxItems, push.MaxTokens},
		{"tokens.fcm[] maxLength", p["tokens"].Properties["fcm"].Items.MaxLength, push.MaxFCMToken},
		{"ttl_seconds minimum", p["ttl_seconds"].Minimum, 0},
		{"ttl_seconds maximum", p["ttl_seconds"].Maximum, push.MaxTTLSeconds},
		{"collapse_key maxLength", p["collapse_key"].MaxLength, push.MaxCollapseKey},
		{"tenant maxLength", p["tenant"].MaxLength, push.MaxTenant},
		{"notification.badge minimum", p["notification"].Properties["badge"].Minimum, 0},
	}
	for _, c := range ints {
		if c.got == nil || *c.got != c.want {
			t.Errorf("%s = %v, want %d", c.name, c.got, c.want)
		}
	}
	patterns := []struct {
		name, got, want string
	}{
		{"app_id", p["app_id"].Pattern, "^[A-Za-z0-9_-]{1," + strconv.Itoa(push.MaxAppID) + "}$"},
		{"message_id", p["message_id"].Pattern, "^[A-Za-z0-9_-]{1," + strconv.Itoa(push.MaxMessageID) + "}$"},
		{"tokens.fcm[]", p["tokens"].Properties["fcm"].Items.Pattern, "^[A-Za-z0-9_:-]+$"},
		{"tokens.apns[]", p["tokens"].Properties["apns"].Items.Pattern, "^(?:[0-9A-Fa-f]{2}){" + strconv.Itoa(push.MinAPNsToken/2) + "," + strconv.Itoa(push.MaxAPNsToken/2) + "}$"},
	}
	for _, c := range patterns {
		if c.got != c.want {
			t.Errorf("%s pattern %q, want %q", c.name, c.got, c.want)
		}
	}
	// Reserved data keys: every key the schema refuses, Go refuses too.
	pn := p["data"].PropertyNames
	if pn == nil || len(pn.Not.AnyOf) != 2 {
		t.Fatal("data.propertyNames does not refuse the reserved keys")
	}
	for _, k := range pn.Not.AnyOf[0].Enum {
		if !push.ReservedDataKey(k) {
			t.Errorf("the schema reserves data key %q, Go does not", k)
		}
	}
	for _, k := range []string{"google.c.a", "gcm.n.e", "googlefoo"} {
		if !push.ReservedDataKey(k) || !strings.HasPrefix(pn.Not.AnyOf[1].Pattern, "^(?:google|gcm)") {
			t.Errorf("prefix of %q: schema %q", k, pn.Not.AnyOf[1].Pattern)
		}
	}
	for _, k := range []string{"order", "Link", "apsx"} {
		if push.ReservedDataKey(k) || slices.Contains(pn.Not.AnyOf[0].Enum, k) {
			t.Errorf("%q is reserved", k)
		}
	}
}

// TestSchemaExamplesAreValid decodes the schema's examples as the sender
// would.
func TestSchemaExamplesAreValid(t *testing.T) {
	s := loadSchema(t)
	if len(s.Examples) == 0 {
		t.Fatal("the schema has no examples")
	}
	for i, ex := range s.Examples {
		if _, err := push.DecodeMessage(ex); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
}
