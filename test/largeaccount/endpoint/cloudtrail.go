package endpoint

import "strings"

func init() { register("cloudtrail", serveCloudTrail) }

// serveCloudTrail answers CloudTrail (JSON 1.1): DescribeTrails (the
// region's own trails, plus the multi-region trails homed elsewhere unless
// includeShadowTrails is false, as AWS's default is true; trailNameList by
// name or ARN), GetTrailStatus and GetEventSelectors (by name or ARN, in
// the trail's home region or, for a multi-region trail, any region). Every
// trail has AWS's default event selector: all management events.
func serveCloudTrail(q *req) {
	a := q.s.Data
	visible := func(t Trail) bool { return t.Home == q.region || t.MultiRegion }
	find := func(ref string) (Trail, bool) {
		for _, t := range a.Trails() {
			if (ref == t.Name && t.Home == q.region) || ref == t.ARN {
				return t, visible(t)
			}
		}
		return Trail{}, false
	}
	switch q.op {
	case "DescribeTrails":
		shadow := true
		if v, ok := q.in["includeShadowTrails"].(bool); ok {
			shadow = v
		}
		names := map[string]bool{}
		if l, ok := q.in["trailNameList"].([]any); ok {
			for _, n := range l {
				s, _ := n.(string)
				names[strings.ToLower(s)] = true
			}
		}
		out := []map[string]any{}
		for _, t := range a.Trails() {
			if t.Home != q.region && !(shadow && t.MultiRegion) {
				continue
			}
			if len(names) > 0 && !names[strings.ToLower(t.Name)] && !names[strings.ToLower(t.ARN)] {
				continue
			}
			e := map[string]any{
				"Name": t.Name, "S3BucketName": "trail-logs-" + a.ID, "S3KeyPrefix": t.Name, "IncludeGlobalServiceEvents": t.MultiRegion,
				"IsMultiRegionTrail": t.MultiRegion, "HomeRegion": t.Home, "TrailARN": t.ARN, "LogFileValidationEnabled": t.Validation,
				"HasCustomEventSelectors": false, "HasInsightSelectors": false, "IsOrganizationTrail": false,
			}
			if t.KmsKeyID != "" {
				e["KmsKeyId"] = t.KmsKeyID
			}
			out = append(out, e)
		}
		q.json(map[string]any{"trailList": out})
	case "GetTrailStatus":
		_, ok := find(q.str("Name"))
		if !ok {
			q.invalid("TrailNotFoundException", "Unknown trail: %s for the user: %s", q.str("Name"), a.ID)
			return
		}
		at := epoch(a.daysAgo(0))
		q.json(map[string]any{"IsLogging": true, "LatestDeliveryTime": at, "StartLoggingTime": epoch(a.daysAgo(400)),
			"LatestDigestDeliveryTime": at, "LatestDeliveryAttemptTime": iso(a.daysAgo(0)), "LatestDeliveryAttemptSucceeded": iso(a.daysAgo(0)),
			"TimeLoggingStarted": iso(a.daysAgo(400)), "TimeLoggingStopped": ""})
	case "GetEventSelectors":
		t, ok := find(q.str("TrailName"))
		if !ok {
			q.invalid("TrailNotFoundException", "Unknown trail: %s for the user: %s", q.str("TrailName"), a.ID)
			return
		}
		q.json(map[string]any{"TrailARN": t.ARN, "EventSelectors": []map[string]any{{
			"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": []any{}, "ExcludeManagementEventSources": []any{},
		}}})
	default:
		q.unknownOperation()
	}
}
