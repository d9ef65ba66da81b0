package snapshot

// ECRData is what the ecr collector read.
type ECRData struct{}
