package snapshot

// CloudTrailData is what the cloudtrail collector read.
type CloudTrailData struct{}
