package httpapi_test

import (
	"testing"

	"mobilepush/shared/testcred"
)

// TestInvalidProjectID: a key file whose project_id is not a project id
// is a failed inspection like any other: POST /v1/validate answers 200
// with ok false, a registration 422, both with the code and its fix.
func TestInvalidProjectID(t *testing.T) {
	a := newAPI(t, accept)
	sa, err := testcred.ServiceAccount{ProjectID: "p/../../v1/projects/other"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := a.do(t, "acme", "POST", "/v1/validate", map[string]any{"fcm": map[string]any{"service_account_json": string(sa)}})
	t.Logf("validate: %v", body)
	if status != 200 || str(body, "fcm", "report", "code") != "invalid_project_id" || body["ok"] != false {
		t.Errorf("validate = %d %v, want 200, ok false, fcm code invalid_project_id", status, body)
	}
	status, _, body = a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "A", "fcm": map[string]any{"service_account_json": string(sa)}})
	if status != 422 || str(body, "error", "code") != "invalid_project_id" || str(body, "error", "details", "report", "code") != "invalid_project_id" {
		t.Errorf("register = %d %v, want 422 invalid_project_id with the report", status, body)
	}
}
