//go:build !linux

package e2e

import (
	"os"
	"testing"
)

// TestE2E needs Linux: the AWS Lambda Runtime Interface Emulator runs
// only there (the Lambda runtime is Linux).
func TestE2E(t *testing.T) {
	const msg = "the end-to-end test needs Linux (aws-lambda-rie runs only there)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING E2E: " + msg)
}

// TestChaosSendKilled needs Linux, as TestE2E does.
func TestChaosSendKilled(t *testing.T) {
	const msg = "the Lambda-path chaos test needs Linux (aws-lambda-rie runs only there)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING the Lambda-path chaos test: " + msg)
}
