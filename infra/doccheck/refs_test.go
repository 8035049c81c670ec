package doccheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// selfFile is this file: it spells out the marks it looks for.
const selfFile = "infra/doccheck/refs_test.go"

// outsideMarks are the marks of a pointer to a document the repository
// does not contain, with what to say about each.
var outsideMarks = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`\bDESIGN\b`), "names a design document outside the repository"},
	{regexp.MustCompile(`\.\./shared/`), "points at ../shared/ beside the checkout"},
	{regexp.MustCompile(`(^|[^\w.-])/work/`), "names a path of the development machine"},
	{regexp.MustCompile(`(?i)\b(library-facts|field-notes)\b`), "names a notes file outside the repository"},
}

// sectionSign is a numbered section ("§4.3"); one that follows "RFC nnnn "
// cites a published standard and is allowed.
var sectionSign = regexp.MustCompile(`(RFC \d+ )?§\s*\d`)

// outsideProblems returns one problem per line of text that points at a
// document outside the repository.
func outsideProblems(text string) []string {
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		var why []string
		for _, m := range outsideMarks {
			if m.re.MatchString(line) {
				why = append(why, m.why)
			}
		}
		for _, m := range sectionSign.FindAllStringSubmatch(line, -1) {
			if m[1] == "" {
				why = append(why, "cites a numbered section of another document")
				break
			}
		}
		if len(why) > 0 {
			problems = append(problems, fmt.Sprintf("line %d %s: %s", i+1, strings.Join(why, ", "), strings.TrimSpace(line)))
		}
	}
	return problems
}

// headings returns the headings (level 2 and below) of a Markdown document.
func headings(doc string) []string {
	var out []string
	for line := range strings.SplitSeq(doc, "\n") {
		if text, ok := strings.CutPrefix(line, "##"); ok {
			out = append(out, strings.TrimSpace(strings.TrimLeft(text, "#")))
		}
	}
	return out
}

// slug is the anchor GitHub gives a heading: lower case, spaces as
// hyphens, other punctuation dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// archRefProblems returns one problem per reference in text to a section
// of docs/ARCHITECTURE.md that names no heading of it. A reference is
// "(docs/ARCHITECTURE.md, Heading)" (also after "; " inside parentheses;
// several headings separated by "; "; closed on the same line) or
// "docs/ARCHITECTURE.md#anchor". The file named in prose, with or without
// a comma after it, is no reference.
func archRefProblems(text string, heads []string) []string {
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		for rest := line; ; {
			j := strings.Index(rest, architectureFile)
			if j < 0 {
				break
			}
			before := strings.TrimRight(rest[:j], " ")
			opened := strings.HasSuffix(before, "(") || strings.HasSuffix(before, ";")
			rest = rest[j+len(architectureFile):]
			switch {
			case opened && strings.HasPrefix(rest, ","):
				names, _, closed := strings.Cut(rest[1:], ")")
				if !closed {
					problems = append(problems, fmt.Sprintf("line %d: a reference to a section must name it and close with \")\" on the same line: %s", i+1, strings.TrimSpace(line)))
					continue
				}
				for name := range strings.SplitSeq(names, ";") {
					if name = strings.TrimSpace(name); !slices.Contains(heads, name) {
						problems = append(problems, fmt.Sprintf("line %d: %s has no heading %q", i+1, architectureFile, name))
					}
				}
			case strings.HasPrefix(rest, "#"):
				anchor := rest[1:]
				if k := strings.IndexFunc(anchor, func(r rune) bool { return r != '-' && r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) }); k >= 0 {
					anchor = anchor[:k]
				}
				if !slices.ContainsFunc(heads, func(h string) bool { return slug(h) == anchor }) {
					problems = append(problems, fmt.Sprintf("line %d: %s has no heading with anchor #%s", i+1, architectureFile, anchor))
				}
			}
		}
	}
	return problems
}

// TestNoReferencesOutsideRepository fails for every line of a tracked file
// outside docs/ that points at a document the repository does not hold:
// the design and notes files beside the checkout are not shipped with it.
// Point at a heading of docs/ARCHITECTURE.md instead, as in
// "(docs/ARCHITECTURE.md, Send path)".
func TestNoReferencesOutsideRepository(t *testing.T) {
	for _, f := range textFiles(t) {
		if under(f.name, "docs") || f.name == selfFile {
			continue
		}
		for _, p := range outsideProblems(f.text) {
			t.Errorf("%s: %s", f.name, p)
		}
	}
}

// TestArchitectureReferencesNameHeadings fails for every reference in a
// tracked file to a section of docs/ARCHITECTURE.md that has no such
// heading, so a renamed heading cannot leave comments pointing nowhere.
func TestArchitectureReferencesNameHeadings(t *testing.T) {
	heads := headings(readFile(t, architectureFile))
	if len(heads) == 0 {
		t.Fatalf("%s has no headings", architectureFile)
	}
	for _, f := range textFiles(t) {
		if f.name == selfFile {
			continue
		}
		for _, p := range archRefProblems(f.text, heads) {
			t.Errorf("%s: %s", f.name, p)
		}
	}
}

func TestOutsideProblems(t *testing.T) {
	for _, tc := range []struct {
		line    string
		flagged bool
	}{
		{"// Package dispatch is the send use case (DESIGN §6): it", true},
		{"// see the DESIGN for details", true},
		{"// verified in ../shared/notes/library-facts.md", true},
		{"# written down in /work/shared/notes", true},
		{"// rieModule is pinned (library-facts §8).", true},
		{"// the field notes say so (field-notes)", true},
		{"// expiry index of §4.3", true},
		{"// We said SETTINGS_ENABLE_PUSH 0 (RFC 9113 §8.4).", false},
		{"// (docs/ARCHITECTURE.md, Send path)", false},
		{"// single-table design; the design lives in docs/", false},
		{"// DESIGNER and REDESIGN are other words", false},
		{"path := filepath.Join(dir, \"work/x\") // ./work/ is relative", false},
	} {
		got := outsideProblems(tc.line)
		if (len(got) > 0) != tc.flagged {
			t.Errorf("outsideProblems(%q) = %q, want flagged %v", tc.line, got, tc.flagged)
		}
	}
	if got := outsideProblems("ok\n// (DESIGN §7)\nok"); len(got) != 1 || !strings.HasPrefix(got[0], "line 2 ") {
		t.Errorf("outsideProblems names the line: got %q", got)
	}
}

func TestArchRefProblems(t *testing.T) {
	heads := []string{"Send path", "Data model", "Queue message v1"}
	for _, tc := range []struct {
		line string
		want int // problems
	}{
		{"// (docs/ARCHITECTURE.md, Send path)", 0},
		{"// (the due index; docs/ARCHITECTURE.md, Data model).", 0},
		{"// (docs/ARCHITECTURE.md, Send path; Queue message v1)", 0},
		{"see [docs/ARCHITECTURE.md](docs/ARCHITECTURE.md) and docs/ARCHITECTURE.md#queue-message-v1.", 0},
		{"// (docs/ARCHITECTURE.md, Sending)", 1},
		{"// (docs/ARCHITECTURE.md, Send path; Error model)", 1},
		{"// (docs/ARCHITECTURE.md,", 1},
		{"docs/ARCHITECTURE.md#send", 1},
		{"(docs/ARCHITECTURE.md, Data model) and (docs/ARCHITECTURE.md, Nothing)", 1},
		{"// the package map of docs/ARCHITECTURE.md, the README's layout", 0},
		{"// the package map of docs/ARCHITECTURE.md,", 0},
	} {
		if got := archRefProblems(tc.line, heads); len(got) != tc.want {
			t.Errorf("archRefProblems(%q) = %q, want %d problems", tc.line, got, tc.want)
		}
	}
}

func TestHeadingsAndSlug(t *testing.T) {
	got := headings("# Title\n\n## Send path\ntext ## not a heading\n### Queue message v1\n#### Deep, one\n")
	want := []string{"Send path", "Queue message v1", "Deep, one"}
	if !slices.Equal(got, want) {
		t.Errorf("headings = %q, want %q", got, want)
	}
	for in, want := range map[string]string{"Send path": "send-path", "Queue message v1": "queue-message-v1", "Store, rotate, roll back": "store-rotate-roll-back"} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
