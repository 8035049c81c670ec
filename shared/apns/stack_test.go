package apns_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"mobilepush/shared/h2client"
)

// stack is the HTTP/2 stack of the pass running: TestMain runs every
// test of the package once per h2client.Stacks entry (config and
// newClient build clients on it); benchmarks run in the first pass only.
var stack = h2client.Lean

func TestMain(m *testing.M) {
	flag.Parse()
	for i, s := range h2client.Stacks {
		if i > 0 && flag.Lookup("test.bench").Value.String() != "" {
			break
		}
		stack = s
		fmt.Printf("=== HTTP/2 client %s\n", s)
		if code := m.Run(); code != 0 {
			fmt.Printf("--- FAIL with HTTP/2 client %s\n", s)
			os.Exit(code)
		}
	}
	os.Exit(0)
}
