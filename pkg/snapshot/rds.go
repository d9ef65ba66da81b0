package snapshot

// RDSData is what the rds collector read.
type RDSData struct{}
