package snapshot

// ACMData is what the acm collector read.
type ACMData struct{}
