package findingstate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// packed keeps every value as read, in one allocation, and does not copy
// again a value an earlier one holds.
func TestPackedSharesWhatRepeats(t *testing.T) {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	id := "posture-auditor/ebs.volume-cmk/111122223333/eu-west-1/arn:aws:ec2:eu-west-1:111122223333:volume/vol-1"
	item := map[string]ddbtypes.AttributeValue{
		attrID: s(id), attrCheck: s("ebs.volume-cmk"), attrResource: s("arn:aws:ec2:eu-west-1:111122223333:volume/vol-1"),
		attrStatus: s("FAILED"), attrRecordState: s("ACTIVE"),
		attrCreatedAt: s("2026-11-01T00:00:00.000Z"), attrFirstObservedAt: s("2026-11-01T00:00:00.000Z"),
		attrUpdatedAt: s("2026-12-01T00:00:00.000Z"), attrLastObservedAt: s("2026-12-01T00:00:00.000Z"),
		attrFingerprint: s("f1"), attrObservedAt: s("2026-12-01T00:00:00.000Z"),
	}
	got := packed(item, recordAttrs)
	for i, a := range recordAttrs {
		if want := str(item, a); got[i] != want {
			t.Errorf("%s = %q, want %q", a, got[i], want)
		}
	}
	base := unsafe.StringData(got[0])
	inID := func(v string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return p >= uintptr(unsafe.Pointer(base)) && p+uintptr(len(v)) <= uintptr(unsafe.Pointer(base))+uintptr(len(id))
	}
	if !inID(got[1]) || !inID(got[2]) {
		t.Error("the check and resource were copied again, not taken from the Id")
	}
	if unsafe.StringData(got[5]) != unsafe.StringData(got[6]) || unsafe.StringData(got[7]) != unsafe.StringData(got[8]) || unsafe.StringData(got[8]) != unsafe.StringData(got[10]) {
		t.Error("equal timestamps were copied again")
	}
	if unsafe.StringData(got[3]) != unsafe.StringData(constants["FAILED"]) {
		t.Error("the status was copied, not shared")
	}
	// What is allocated is what is copied (the Id, two timestamps, the
	// fingerprint) and the values' headers, not every value's length.
	copied := len(id) + 2*len("2026-12-01T00:00:00.000Z") + len("f1")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 100
	for range calls {
		packed(item, recordAttrs)
	}
	runtime.ReadMemStats(&after)
	indexes := len(recordAttrs) * 16 // the values' headers
	if per := int(after.TotalAlloc-before.TotalAlloc) / calls; per > copied+indexes+64 {
		t.Errorf("%d bytes allocated a record; %d copied, %d of indexes", per, copied, indexes)
	}
	if empty := packed(map[string]ddbtypes.AttributeValue{}, recordAttrs); len(empty) != len(recordAttrs) || empty[0] != "" {
		t.Errorf("no attributes: %q", empty)
	}
}

// Many savers compress at once through the few writers there are; each
// gets its own input back.
func TestDeflateConcurrentlyWithFewWriters(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := bytes.Repeat([]byte(fmt.Sprintf(`{"n":%d}`, i)), 200)
			z, err := deflate(in)
			if err != nil {
				errs <- err
				return
			}
			out, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
			if err != nil || !bytes.Equal(out, in) {
				errs <- fmt.Errorf("writer %d: round trip differs (%v)", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(deflaterSlots); n > maxDeflaters {
		t.Errorf("%d writers made, at most %d", n, maxDeflaters)
	}
}
