package secretschecks

import (
	"strings"
	"testing"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRotationDue(t *testing.T) {
	type rules = snapshot.SecretRotationRules
	tests := []struct {
		name  string
		rules rules
		last  string
		want  string
	}{
		// 2026-01-10 is a Saturday; 2026 is not a leap year.
		{"days: the UTC day N days on, to its end", rules{AutomaticallyAfterDays: 30}, "2026-01-10 13:45", "2026-02-10 00:00"},
		{"rate days", rules{ScheduleExpression: "rate(30 days)", AutomaticallyAfterDays: 30}, "2026-01-10 13:45", "2026-02-10 00:00"},
		{"rate 1 day", rules{ScheduleExpression: "rate(1 day)"}, "2026-01-10 23:59", "2026-01-12 00:00"},
		{"rate days with a window", rules{ScheduleExpression: "rate(10 days)", Duration: "3h"}, "2026-01-10 13:45", "2026-01-20 03:00"},
		{"rate hours: last + N + one hour", rules{ScheduleExpression: "rate(4 hours)"}, "2026-01-10 13:45", "2026-01-10 18:45"},
		{"rate hours with a window", rules{ScheduleExpression: "rate(12 hours)", Duration: "2h"}, "2026-01-10 13:45", "2026-01-11 03:45"},
		{"cron twice a month, window to end of day", rules{ScheduleExpression: "cron(0 16 1,15 * ? *)"}, "2026-01-10 13:45", "2026-01-16 00:00"},
		{"cron with a window", rules{ScheduleExpression: "cron(0 16 1,15 * ? *)", Duration: "4h"}, "2026-01-10 13:45", "2026-01-15 20:00"},
		{"cron later the same day", rules{ScheduleExpression: "cron(0 16 * * ? *)"}, "2026-01-10 13:45", "2026-01-11 00:00"},
		{"cron last day of month", rules{ScheduleExpression: "cron(0 16 L * ? *)"}, "2026-01-31 17:00", "2026-03-01 00:00"},
		{"cron first Sunday", rules{ScheduleExpression: "cron(0 0 ? * SUN#1 *)"}, "2026-01-10 00:00", "2026-02-02 00:00"},
		{"cron last Friday", rules{ScheduleExpression: "cron(0 8 ? * 6L *)"}, "2026-01-10 00:00", "2026-01-31 00:00"},
		{"cron weekdays", rules{ScheduleExpression: "cron(0 10 ? * MON-FRI *)"}, "2026-01-09 11:00", "2026-01-13 00:00"},
		{"cron every 12 hours from 4, resetting daily", rules{ScheduleExpression: "cron(0 4/12 * * ? *)", Duration: "1h"}, "2026-01-10 04:30", "2026-01-10 17:00"},
		{"cron quarterly by month names", rules{ScheduleExpression: "cron(0 0 1 JAN,APR,JUL,OCT ? *)"}, "2026-01-10 00:00", "2026-04-02 00:00"},
		{"cron 29 February", rules{ScheduleExpression: "cron(0 0 29 2 ? *)"}, "2026-03-01 00:00", "2028-03-01 00:00"},
		{"expression wins over the reported days", rules{ScheduleExpression: "cron(0 0 1 * ? *)", AutomaticallyAfterDays: 3}, "2026-01-10 00:00", "2026-02-02 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rotationDue(tt.rules, at(tt.last))
			if err != nil {
				t.Fatal(err)
			}
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("due %s, want %s", got.Format(time.DateTime), want.Format(time.DateTime))
			}
		})
	}
}

func TestRotationDueRefusesWhatItCannotRead(t *testing.T) {
	type rules = snapshot.SecretRotationRules
	tests := []struct {
		rules rules
		want  string
	}{
		{rules{}, "no rotation schedule was reported"},
		{rules{ScheduleExpression: "rate(0 days)"}, "positive number"},
		{rules{ScheduleExpression: "rate(2 weeks)"}, `unrecognised rate expression "rate(2 weeks)"`},
		{rules{ScheduleExpression: "every day"}, `unrecognised schedule expression "every day"`},
		{rules{ScheduleExpression: "cron(0 16 1 * ?)"}, "want 6 fields"},
		{rules{ScheduleExpression: "cron(0 16 1W * ? *)"}, `day-of-month: "1W" is not a value from 1 to 31`},
		{rules{ScheduleExpression: "cron(0 25 * * ? *)"}, `hours: "25" is not a value from 0 to 23`},
		{rules{ScheduleExpression: "cron(0 0 31 2 ? *)"}, "does not fire within 9 years"},
		{rules{AutomaticallyAfterDays: 7, Duration: "90m"}, `unrecognised rotation window duration "90m"`},
	}
	for _, tt := range tests {
		_, err := rotationDue(tt.rules, at("2026-01-10 00:00"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tt.rules, err, tt.want)
		}
	}
}

func TestIntervalDays(t *testing.T) {
	type rules = snapshot.SecretRotationRules
	for _, tt := range []struct {
		rules rules
		want  int
	}{
		{rules{AutomaticallyAfterDays: 7}, 7},
		{rules{ScheduleExpression: "rate(10 days)", AutomaticallyAfterDays: 10}, 10},
		{rules{ScheduleExpression: "rate(4 hours)"}, 0},
		{rules{ScheduleExpression: "cron(0 0 1 * ? *)", AutomaticallyAfterDays: 31}, 0},
	} {
		if got := intervalDays(tt.rules); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.rules, got, tt.want)
		}
	}
}

// FuzzRotationDue: any schedule text either yields a due time after the
// last rotation or an error; it never panics or loops.
func FuzzRotationDue(f *testing.F) {
	for _, s := range []string{"rate(30 days)", "rate(4 hours)", "cron(0 16 1,15 * ? *)", "cron(0 8 ? * MON#2 *)", "cron(0 0 L * ? *)", "rate(0 days)", "cron()", "cron(* * * * * *)"} {
		f.Add(s, "3h", int64(0))
	}
	last := time.Date(2026, 1, 31, 13, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr, duration string, days int64) {
		due, err := rotationDue(snapshot.SecretRotationRules{ScheduleExpression: expr, Duration: duration, AutomaticallyAfterDays: days}, last)
		if err == nil && !due.After(last) {
			t.Fatalf("%q %q %d: due %v is not after the last rotation", expr, duration, days, due)
		}
	})
}
