package snapshot

// EBSData is what the ebs collector read.
type EBSData struct{}
