package envconfig

import (
	"strings"
	"testing"
	"time"
)

func TestReaderReportsEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{"TABLE": "t1", "TIMEOUT": "soon", "URL": "ftp://x", "N": "7"}
	r := New(func(k string) string { return env[k] })
	table := r.Required("TABLE")
	_ = r.Required("QUEUE_URL")
	_ = r.Required("BUS_NAME")
	d := r.Duration("TIMEOUT", time.Second)
	_ = r.URL("URL", "")
	n := r.Int("N", 1, 1, 5)
	def := r.Optional("MISSING", "fallback")
	one := r.OneOf("TABLE", "lean", "lean", "std")
	if table != "t1" || d != time.Second || n != 1 || def != "fallback" || one != "lean" {
		t.Errorf("values = %q %v %d %q %q", table, d, n, def, one)
	}
	err := r.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"QUEUE_URL is not set", "BUS_NAME is not set", `TIMEOUT="soon"`, `URL="ftp://x"`, `N="7"`, `TABLE="t1" is not one of lean, std`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestReaderOK(t *testing.T) {
	r := New(func(k string) string {
		return map[string]string{"A": " a ", "D": "2m", "U": "https://x.example/p", "S": "std"}[k]
	})
	if r.Required("A") != "a" || r.Duration("D", 0) != 2*time.Minute || r.URL("U", "") != "https://x.example/p" ||
		r.OneOf("S", "lean", "lean", "std") != "std" || r.OneOf("UNSET", "lean", "lean", "std") != "lean" || r.Err() != nil {
		t.Errorf("err = %v", r.Err())
	}
}
