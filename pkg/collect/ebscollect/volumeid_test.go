package ebscollect

import (
	"testing"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// TestVolumeIDOfAnotherRegionIsNotRead: described here, another region's or
// account's volume would answer NotFound and be marked absent (archived).
func TestVolumeIDOfAnotherRegionIsNotRead(t *testing.T) {
	snap := snapshot.New("123456789012", "aws", "us-east-1")
	for _, tc := range []struct {
		in, id string
		here   bool
	}{
		{"vol-0123456789abcdef0", "vol-0123456789abcdef0", true},
		{"arn:aws:ec2:us-east-1:123456789012:volume/vol-1", "vol-1", true},
		{"arn:aws:ec2:eu-west-1:123456789012:volume/vol-1", "vol-1", false},
		{"arn:aws:ec2:us-east-1:210987654321:volume/vol-1", "vol-1", false},
	} {
		if id, here := volumeID(snap, tc.in); id != tc.id || here != tc.here {
			t.Errorf("volumeID(%q) = %q, %v; want %q, %v", tc.in, id, here, tc.id, tc.here)
		}
	}
}
