package snapshot

// CloudFrontData is what the cloudfront collector read.
type CloudFrontData struct{}
