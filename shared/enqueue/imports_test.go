package enqueue_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// allowedImports are the non-standard packages enqueue may import: it is
// vendored into application servers.
var allowedImports = []string{
	"mobilepush/shared/push",
	"github.com/aws/aws-sdk-go-v2/aws",
	"github.com/aws/aws-sdk-go-v2/service/sqs",
	"github.com/aws/aws-sdk-go-v2/service/sqs/types",
}

// standard reports whether path is a standard-library package: its first
// element has no dot (and it is not this module).
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != "mobilepush"
}

func TestImportsOnlyStdlibPushAndSQS(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports found: is the test running in the package directory?")
	}
	for _, imp := range pkg.Imports {
		if !standard(imp) && !slices.Contains(allowedImports, imp) {
			t.Errorf("enqueue imports %s; it may import only the standard library and %v", imp, allowedImports)
		}
	}
	// push comes along: it must stay standard-library only.
	push, err := build.ImportDir("../push", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range push.Imports {
		if !standard(imp) {
			t.Errorf("push imports %s; it must import only the standard library", imp)
		}
	}
}
