// Package doccheck keeps the repository's documents in step with its code.
// Its tests fail when:
//
//   - a Go package under shared/ or infra/ is missing from the README's
//     Layout block, or the block lists a directory that does not exist;
//   - a Go package is missing from the package map of docs/ARCHITECTURE.md,
//     the map lists one that does not exist, or lists a package before one
//     it imports (the map is in dependency order, leaves first);
//   - a tracked file points at a section of docs/ARCHITECTURE.md that has no
//     such heading ("(docs/ARCHITECTURE.md, Send path)" must name one);
//   - a tracked file outside docs/ points at a document the repository does
//     not contain (a design file or notes beside the checkout, a numbered
//     section of one).
//
// It has no code of its own; the checks are its tests.
package doccheck
