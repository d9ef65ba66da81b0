package publish

// ReadAheadMaxRecords is readAheadMaxRecords, for the external tests.
const ReadAheadMaxRecords = readAheadMaxRecords
