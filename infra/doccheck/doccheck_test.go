package doccheck

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository's root, seen from this package's directory.
const root = "../.."

// The documents the checks read, relative to root.
const (
	readmeFile       = "README.md"
	architectureFile = "docs/ARCHITECTURE.md"
)

// readFile returns the text of a file under root.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// packageDirs returns the Go package directories under root/sub, as slash
// paths relative to root ("shared/apns/apnstest"), sorted. A directory is a
// package when it holds a .go file; testdata and directories whose name
// starts with "." or "_" are skipped, as the go command skips them.
func packageDirs(t *testing.T, sub string) []string {
	t.Helper()
	var dirs []string
	base := filepath.Join(root, sub)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != base && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// isDir reports whether the slash path rel names a directory under root.
func isDir(rel string) bool {
	st, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil && st.IsDir()
}

// trackedFiles returns the files git tracks, as slash paths relative to
// root. Without git (or outside a checkout) the test skips, loudly, and
// fails when CI=true.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		msg := "cannot list the tracked files with git ls-files: " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIP: " + msg)
	}
	var files []string
	for f := range bytes.SplitSeq(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files
}

// textFile is a tracked text file: its slash path and contents.
type textFile struct {
	name, text string
}

// textFiles returns the tracked files that are text (no NUL byte), with
// their contents, sorted by path. A tracked file deleted from the work
// tree is left out.
func textFiles(t *testing.T) []textFile {
	t.Helper()
	var out []textFile
	for _, f := range trackedFiles(t) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		out = append(out, textFile{f, string(b)})
	}
	slices.SortFunc(out, func(a, b textFile) int { return strings.Compare(a.name, b.name) })
	return out
}

// missingAndExtra compares the paths a document lists with those that
// must be listed: missing are in want but not listed, extra are listed but
// not accepted by exists. Both are sorted; a path listed twice is extra.
func missingAndExtra(want, listed []string, exists func(string) bool) (missing, extra []string) {
	seen := map[string]bool{}
	for _, p := range listed {
		if seen[p] || !exists(p) {
			extra = append(extra, p)
		}
		seen[p] = true
	}
	for _, p := range want {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

// under reports whether the slash path p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// clean normalizes a listed path: slash-separated, no trailing slash.
func clean(p string) string { return path.Clean(strings.TrimSuffix(p, "/")) }
