package snapshot

// SecretsManagerData is what the secretsmanager collector read.
type SecretsManagerData struct{}
