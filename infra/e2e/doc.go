// Package e2e holds the end-to-end test of the four Lambda functions
// (docs/ARCHITECTURE.md, Testing): TestE2E builds their bootstraps for the host,
// runs each under its own AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie, installed with go install at a pinned version when
// missing) on loopback ports, against moto_server (AWS_ENDPOINT_URL) and
// the fake Apple and Google servers (apnstest, fcmtest), and drives
// register -> validate -> enqueue -> send -> expiry through the Lambda
// runtime protocol with the events Lambda would deliver.
// TestChaosSendKilled kills the send function's emulator and bootstrap
// with SIGKILL in the middle of an SQS batch from moto, three times, and
// checks that the redelivered batch ends with one recorded outcome per
// token and every repeat carrying the identity of its first push.
//
// The package has no non-test code. Run it alone with
//
//	CI=true go test -v -run E2E ./infra/e2e/
//
// with AWS_ENDPOINT_URL pointing at a moto_server (make test starts one).
// Without AWS_ENDPOINT_URL the test skips loudly, or fails when CI=true.
package e2e
