package doccheck

import (
	"errors"
	"fmt"
	"go/build"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// layoutSections parses the fenced block under the README's "## Layout"
// heading. A line that starts in column 0 with "dir/" opens the section
// dir; the indented lines after it list paths relative to dir: every
// leading field that ends in "/" ("  apns/ fcm/     the provider clients"
// lists apns and fcm). It returns the listed paths per section, relative
// to the repository ("shared/apns"), in order.
func layoutSections(readme string) (map[string][]string, error) {
	_, rest, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		return nil, errors.New(`no "## Layout" heading`)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	_, block, ok := strings.Cut(rest, "```\n")
	if !ok {
		return nil, errors.New("no fenced block under the Layout heading")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		return nil, errors.New("the Layout block is not closed")
	}
	out := map[string][]string{}
	section := ""
	for line := range strings.SplitSeq(block, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			section = ""
			if strings.HasSuffix(fields[0], "/") {
				section = clean(fields[0])
				if _, seen := out[section]; !seen {
					out[section] = []string{}
				}
			}
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("indented line %q is under no directory", strings.TrimSpace(line))
		}
		for _, f := range fields {
			if !strings.HasSuffix(f, "/") {
				break
			}
			out[section] = append(out[section], section+"/"+clean(f))
		}
	}
	return out, nil
}

// packageMap parses the tables of the "## Package map" section of
// docs/ARCHITECTURE.md: the first cell of every row that starts with a
// backquoted path names a package, relative to shared/ unless it starts
// with functions/ or infra/. It returns the packages relative to the
// repository ("shared/apns/apnstest", "infra/e2e"), in the order listed.
func packageMap(doc string) ([]string, error) {
	_, rest, ok := strings.Cut(doc, "\n## Package map\n")
	if !ok {
		return nil, errors.New(`no "## Package map" heading`)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var out []string
	for line := range strings.SplitSeq(rest, "\n") {
		m := mapRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p := clean(m[1])
		if !under(p, "functions") && !under(p, "infra") {
			p = "shared/" + p
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("the Package map section has no table rows naming a package")
	}
	return out, nil
}

// mapRow is a package map row: "| `apns/apnstest` | what it is |".
var mapRow = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")

// outOfOrder returns a problem for every listed package that comes before
// a listed package it imports (imports gives a package's imports, as
// listed paths). Packages it imports that are not listed are ignored:
// the completeness check reports them.
func outOfOrder(listed []string, imports func(string) []string) []string {
	pos := map[string]int{}
	for i, p := range listed {
		if _, dup := pos[p]; !dup {
			pos[p] = i
		}
	}
	var problems []string
	for i, p := range listed {
		for _, imp := range imports(p) {
			if j, ok := pos[imp]; ok && j > i {
				problems = append(problems, fmt.Sprintf("%s is listed before %s, which it imports", p, imp))
			}
		}
	}
	return problems
}

// modulePath returns the module path of the repository's go.mod.
func modulePath(t *testing.T) string {
	t.Helper()
	for line := range strings.SplitSeq(readFile(t, "go.mod"), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}

// localImports returns the packages of this module that the non-test
// files of dir import, relative to the repository.
func localImports(t *testing.T, module, dir string) []string {
	t.Helper()
	pkg, err := build.Default.ImportDir(filepath.Join(root, filepath.FromSlash(dir)), 0)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return nil // only tests: nothing depends on its imports
	}
	if err != nil {
		t.Fatalf("read the imports of %s: %v", dir, err)
	}
	var out []string
	for _, imp := range pkg.Imports {
		if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

// TestReadmeLayoutListsEveryPackage fails for each Go package under
// shared/ or infra/ that the README's Layout block does not list, and for
// each path it lists that is not a directory.
func TestReadmeLayoutListsEveryPackage(t *testing.T) {
	sections, err := layoutSections(readFile(t, readmeFile))
	if err != nil {
		t.Fatalf("%s: %v", readmeFile, err)
	}
	for _, dir := range []string{"shared", "infra"} {
		listed, ok := sections[dir]
		if !ok {
			t.Errorf("%s, Layout: no %s/ section", readmeFile, dir)
			continue
		}
		missing, extra := missingAndExtra(packageDirs(t, dir), listed, isDir)
		for _, p := range missing {
			t.Errorf("%s, Layout: package %s is not listed; add a line for %s/", readmeFile, p, strings.TrimPrefix(p, dir+"/"))
		}
		for _, p := range extra {
			t.Errorf("%s, Layout: lists %s/, which is not a directory (or is listed twice)", readmeFile, p)
		}
	}
}

// TestArchitecturePackageMapListsEveryPackage fails for each Go package
// under shared/, functions/ or infra/ that the package map of
// docs/ARCHITECTURE.md does not list, and for each row that names no
// package.
func TestArchitecturePackageMapListsEveryPackage(t *testing.T) {
	listed, err := packageMap(readFile(t, architectureFile))
	if err != nil {
		t.Fatalf("%s: %v", architectureFile, err)
	}
	var want []string
	for _, dir := range []string{"shared", "functions", "infra"} {
		want = append(want, packageDirs(t, dir)...)
	}
	missing, extra := missingAndExtra(want, listed, func(p string) bool { return slices.Contains(want, p) })
	for _, p := range missing {
		t.Errorf("%s, Package map: package %s is not listed; add a row after the packages it imports", architectureFile, p)
	}
	for _, p := range extra {
		t.Errorf("%s, Package map: lists %s, which is not a Go package (or is listed twice)", architectureFile, p)
	}
}

// TestArchitecturePackageMapInDependencyOrder fails for each package the
// map lists before a package it imports.
func TestArchitecturePackageMapInDependencyOrder(t *testing.T) {
	listed, err := packageMap(readFile(t, architectureFile))
	if err != nil {
		t.Fatalf("%s: %v", architectureFile, err)
	}
	module := modulePath(t)
	imports := func(p string) []string {
		if !isDir(p) {
			return nil // reported by the completeness check
		}
		return localImports(t, module, p)
	}
	for _, p := range outOfOrder(listed, imports) {
		t.Errorf("%s, Package map: %s", architectureFile, p)
	}
}

func TestLayoutSections(t *testing.T) {
	const readme = "# x\n\n## Layout\n\nIntro.\n\n```\n" +
		"functions/       entrypoints\n" +
		"shared/          packages\n" +
		"  push/          vocabulary\n" +
		"  apns/ fcm/     clients; apnstest/ is described, not listed\n" +
		"  apns/apnstest/ fcm/fcmtest/  fakes\n" +
		"infra/\n" +
		"  e2e/           tests\n" +
		"template.yaml    the template\n" +
		"```\n\n## Next\n\n```\nshared/\n  ignored/\n```\n"
	got, err := layoutSections(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"functions": {},
		"shared":    {"shared/push", "shared/apns", "shared/fcm", "shared/apns/apnstest", "shared/fcm/fcmtest"},
		"infra":     {"infra/e2e"},
	}
	if len(got) != len(want) {
		t.Errorf("sections = %v, want %v", got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("section %s = %q, want %q", k, got[k], w)
		}
	}

	for _, bad := range []string{
		"# no layout\n",
		"## Layout\n\nno block\n\n## Next\n```\nshared/\n```\n",
		"## Layout\n\n```\nshared/\n  push/\n",
		"## Layout\n\n```\n  push/  under nothing\n```\n",
	} {
		if _, err := layoutSections("\n" + bad); err == nil {
			t.Errorf("layoutSections(%q) = nil error, want one", bad)
		}
	}
}

func TestPackageMap(t *testing.T) {
	const doc = "# A\n\n## Package map\n\n| package | what |\n| --- | --- |\n" +
		"| `push` | vocabulary |\n| `apns/apnstest` | fake |\n\n" +
		"| entrypoint | what |\n| --- | --- |\n| `functions/send` | send |\n| `infra/e2e/` | tests |\n\n" +
		"Text with `code` | and a bar.\n\n## Data model\n\n| `credential` | not in the map |\n"
	got, err := packageMap(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shared/push", "shared/apns/apnstest", "functions/send", "infra/e2e"}
	if !slices.Equal(got, want) {
		t.Errorf("packageMap = %q, want %q", got, want)
	}
	for _, bad := range []string{"# A\n\n## Data model\n", "# A\n\n## Package map\n\nno table\n\n## B\n| `push` | x |\n"} {
		if _, err := packageMap(bad); err == nil {
			t.Errorf("packageMap(%q) = nil error, want one", bad)
		}
	}
}

func TestMissingAndExtra(t *testing.T) {
	exists := func(p string) bool { return p != "shared/gone" }
	missing, extra := missingAndExtra(
		[]string{"shared/a", "shared/b", "shared/c"},
		[]string{"shared/c", "shared/a", "shared/gone", "shared/a"},
		exists)
	if want := []string{"shared/b"}; !slices.Equal(missing, want) {
		t.Errorf("missing = %q, want %q", missing, want)
	}
	if want := []string{"shared/a", "shared/gone"}; !slices.Equal(extra, want) {
		t.Errorf("extra = %q, want %q", extra, want)
	}
}

func TestOutOfOrder(t *testing.T) {
	graph := map[string][]string{
		"push":     nil,
		"apns":     {"push", "h2client"},
		"dispatch": {"apns", "push", "unlisted"},
	}
	imports := func(p string) []string { return graph[p] }
	for _, tc := range []struct {
		listed []string
		want   []string
	}{
		{[]string{"push", "h2client", "apns", "dispatch"}, nil},
		{[]string{"h2client", "apns", "push", "dispatch"}, []string{"apns is listed before push, which it imports"}},
		{[]string{"dispatch", "push", "h2client", "apns"}, []string{
			"dispatch is listed before apns, which it imports",
			"dispatch is listed before push, which it imports",
		}},
	} {
		if got := outOfOrder(tc.listed, imports); !slices.Equal(got, tc.want) {
			t.Errorf("outOfOrder(%q) = %q, want %q", tc.listed, got, tc.want)
		}
	}
}
