package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactedNeverPrints(t *testing.T) {
	const secret = "-----BEGIN PRIVATE KEY-----hunter2"
	r := NewRedacted([]byte(secret))
	type holder struct {
		Key Redacted `json:"key"`
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, r), fmt.Sprintf(verb, holder{r}), fmt.Sprintf(verb, &holder{r}))
	}
	j, err := json.Marshal(holder{r})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("loaded", "key", r)
	outputs = append(outputs, logBuf.String())
	for _, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "BEGIN") || strings.Contains(out, "68756e746572") {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("placeholder missing: %s", out)
		}
	}
	if got := string(r.Reveal()); got != secret {
		t.Errorf("Reveal() = %q, want the secret", got)
	}
	if r.IsZero() || !(Redacted{}).IsZero() {
		t.Error("IsZero wrong")
	}
}
