package dispatch

// WithoutFairness makes s share its slots in arrival order, as if every
// message were one tenant's: the baseline of the fairness benchmark.
func WithoutFairness(s *Sender) {
	s.inFlight.asOne = true
	s.fcmCalls.asOne = true
}
