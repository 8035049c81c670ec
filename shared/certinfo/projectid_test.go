package certinfo

import (
	"strings"
	"testing"

	"mobilepush/shared/testcred"
)

func TestServiceAccountProjectID(t *testing.T) {
	in := &Inspector{}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"acme-push", true},
		{"abcdef", true},
		{"a" + strings.Repeat("b", 29), true},
		{"my-project-123456", true},
		{"abcde", false},                       // 5 characters
		{"a" + strings.Repeat("b", 30), false}, // 31 characters
		{"1acme-push", false},                  // starts with a digit
		{"-acme-push", false},
		{"acme-push-", false}, // ends with a hyphen
		{"Acme-Push", false},  // upper case
		{"acme_push", false},
		{"acme.push", false},
		{"p/../../v1/projects/other", false},
		{"acme%2fpush", false},
		{"acme push", false},
		{"acme-push\x00", false},
		{"acmé-push", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			r := in.ServiceAccount(serviceAccount(t, testcred.ServiceAccount{ProjectID: tc.id}, nil))
			if r.OK != tc.ok {
				t.Fatalf("project_id %q: ok = %v (%s), want %v", tc.id, r.OK, r.Code, tc.ok)
			}
			c, found := checkNamed(r, "project_id")
			if !found {
				t.Fatalf("no project_id check: %+v", r.Checks)
			}
			if tc.ok {
				return
			}
			if r.Code != InvalidProjectID || c.Code != InvalidProjectID || c.OK {
				t.Errorf("code = %s, check = %+v, want %s", r.Code, c, InvalidProjectID)
			}
			if !strings.Contains(c.Message, "Upload the unedited file") || !strings.Contains(c.Message, "6 to 30") {
				t.Errorf("the message lacks the rule or the fix: %s", c.Message)
			}
			if strings.ContainsRune(c.Message, 0) {
				t.Errorf("the message holds a raw NUL: %q", c.Message)
			}
			if r.material != nil {
				t.Error("a refused key file yields material")
			}
		})
	}
}

func checkNamed(r *Report, name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}
