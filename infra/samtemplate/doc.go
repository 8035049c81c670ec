// Package samtemplate holds the static checks of template.yaml:
// what cfn-lint cannot know about this system — every function built
// the same way and configured completely, least privilege, the send
// queue's settings, the table's indexes. It has no code of its own; the
// checks are its tests.
package samtemplate
