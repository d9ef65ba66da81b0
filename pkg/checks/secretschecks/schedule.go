package secretschecks

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

const day = 24 * time.Hour

// rotationDue returns when a working rotation must have rotated the secret
// again after last (its last rotation, or its creation): the close of the
// first rotation window that opens after last. The rules, from the
// Secrets Manager rotation schedule documentation (UTC throughout):
//
//   - rate(N days), and AutomaticallyAfterDays N without an expression: the
//     window is the UTC day N days after the day of last, from midnight for
//     Duration, else to the end of that day.
//   - rate(N hours): windows open every N hours (resetting at midnight) and
//     last Duration, else one hour; the next one opens at most N hours after
//     last, so last + N hours + the window bounds it.
//   - cron(...): the exact next firing after last, found by walking the
//     days; the window lasts Duration, else it is taken to close at the end
//     of that UTC day (AWS closes it after one hour for schedules in hours:
//     the end of the day is the conservative bound).
//
// An expression this cannot read is an error, never a guess.
func rotationDue(r snapshot.SecretRotationRules, last time.Time) (time.Time, error) {
	last = last.UTC()
	window, err := windowLength(r.Duration)
	if err != nil {
		return time.Time{}, err
	}
	expr := strings.TrimSpace(r.ScheduleExpression)
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		n, hours, err := parseRate(expr)
		if err != nil {
			return time.Time{}, err
		}
		if hours {
			if window == 0 {
				window = time.Hour
			}
			return last.Add(time.Duration(n)*time.Hour + window), nil
		}
		return dayWindowEnd(last, n, window), nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		c, err := parseCron(expr[len("cron(") : len(expr)-1])
		if err != nil {
			return time.Time{}, fmt.Errorf("schedule %s: %w", expr, err)
		}
		fire, ok := c.next(last)
		if !ok {
			return time.Time{}, fmt.Errorf("schedule %s does not fire within %d years of %s", expr, maxScanDays/366, last.Format(time.DateOnly))
		}
		if window == 0 {
			return fire.Truncate(day).Add(day), nil
		}
		return fire.Add(window), nil
	case expr != "":
		return time.Time{}, fmt.Errorf("unrecognised schedule expression %q", expr)
	case r.AutomaticallyAfterDays > 0:
		return dayWindowEnd(last, int(r.AutomaticallyAfterDays), window), nil
	}
	return time.Time{}, errors.New("rotation is enabled but no rotation schedule was reported")
}

// dayWindowEnd closes the window of the UTC day n days after last's day.
func dayWindowEnd(last time.Time, n int, window time.Duration) time.Time {
	if window == 0 {
		window = day
	}
	return last.Truncate(day).AddDate(0, 0, n).Add(window)
}

// scheduleText names a schedule in a reason.
func scheduleText(r snapshot.SecretRotationRules) string {
	if r.ScheduleExpression != "" {
		return r.ScheduleExpression
	}
	if r.AutomaticallyAfterDays > 0 {
		return fmt.Sprintf("every %d days", r.AutomaticallyAfterDays)
	}
	return "no schedule"
}

// intervalDays is the rotation interval in whole days, when the schedule is
// one (for the ASFF RotationRules); 0 otherwise.
func intervalDays(r snapshot.SecretRotationRules) int {
	if r.ScheduleExpression == "" {
		return int(r.AutomaticallyAfterDays)
	}
	if n, hours, err := parseRate(r.ScheduleExpression); err == nil && !hours {
		return n
	}
	return 0
}

var (
	ratePattern     = regexp.MustCompile(`^rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)$`)
	durationPattern = regexp.MustCompile(`^(\d+)h$`)
)

// parseRate reads rate(N hours|days).
func parseRate(expr string) (n int, hours bool, err error) {
	m := ratePattern.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return 0, false, fmt.Errorf("unrecognised rate expression %q", expr)
	}
	n, err = strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, false, fmt.Errorf("rate expression %q: the interval must be a positive number", expr)
	}
	return n, strings.HasPrefix(m[2], "hour"), nil
}

// windowLength reads Duration ("3h"); 0 means the schedule's default.
func windowLength(d string) (time.Duration, error) {
	d = strings.TrimSpace(d)
	if d == "" {
		return 0, nil
	}
	m := durationPattern.FindStringSubmatch(d)
	if m == nil {
		return 0, fmt.Errorf("unrecognised rotation window duration %q", d)
	}
	h, err := strconv.Atoi(m[1])
	if err != nil || h < 1 || h > 24 {
		return 0, fmt.Errorf("rotation window duration %q is not 1h to 24h", d)
	}
	return time.Duration(h) * time.Hour, nil
}

// maxScanDays bounds the walk to the next cron firing. Secrets Manager
// requires * in the year field, so a valid schedule fires at least once in
// any 8 years (29 February, across a skipped leap year such as 2100).
const maxScanDays = 9 * 366

// cronSchedule is a parsed AWS cron expression: Minutes Hours Day-of-month
// Month Day-of-week Year, with Day-of-week 1-7 = SUN-SAT.
type cronSchedule struct {
	minutes, hours  []bool
	domAny, domLast bool
	dom             []bool
	months          []bool
	dowAny          bool
	dow             []bool
	// dowLast holds the weekdays of "5L" (last Thursday of the month);
	// dowNth the weekday and ordinal of "2#1" (first Monday).
	dowLast []int
	dowNth  [][2]int
	years   []bool // nil: every year
}

const minYear, maxYear = 1970, 2199

var (
	monthNames   = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	weekdayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(body string) (*cronSchedule, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cronSchedule{}
	var err error
	if c.minutes, err = parseField(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("minutes: %w", err)
	}
	if c.hours, err = parseField(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("hours: %w", err)
	}
	if err = c.parseDayOfMonth(f[2]); err != nil {
		return nil, fmt.Errorf("day-of-month: %w", err)
	}
	if c.months, err = parseField(f[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("month: %w", err)
	}
	if err = c.parseDayOfWeek(f[4]); err != nil {
		return nil, fmt.Errorf("day-of-week: %w", err)
	}
	if f[5] != "*" {
		if c.years, err = parseField(f[5], minYear, maxYear, nil); err != nil {
			return nil, fmt.Errorf("year: %w", err)
		}
	}
	return c, nil
}

func (c *cronSchedule) parseDayOfMonth(field string) error {
	if field == "?" || field == "*" {
		c.domAny = true
		return nil
	}
	c.dom = make([]bool, 32)
	for _, item := range strings.Split(field, ",") {
		if item == "L" {
			c.domLast = true
			continue
		}
		if err := parseItem(item, 1, 31, nil, c.dom); err != nil {
			return err
		}
	}
	return nil
}

func (c *cronSchedule) parseDayOfWeek(field string) error {
	if field == "?" || field == "*" {
		c.dowAny = true
		return nil
	}
	c.dow = make([]bool, 8)
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			c.dow[7] = true // alone, L is the last day of the week: Saturday
		case strings.HasSuffix(item, "L"):
			wd, err := value(strings.TrimSuffix(item, "L"), 1, 7, weekdayNames)
			if err != nil {
				return err
			}
			c.dowLast = append(c.dowLast, wd)
		case strings.Contains(item, "#"):
			wdText, nText, _ := strings.Cut(item, "#")
			wd, err := value(wdText, 1, 7, weekdayNames)
			if err != nil {
				return err
			}
			n, err := value(nText, 1, 5, nil)
			if err != nil {
				return err
			}
			c.dowNth = append(c.dowNth, [2]int{wd, n})
		default:
			if err := parseItem(item, 1, 7, weekdayNames, c.dow); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseField reads a comma-separated list of values, ranges and steps.
func parseField(field string, min, max int, names map[string]int) ([]bool, error) {
	set := make([]bool, max+1)
	for _, item := range strings.Split(field, ",") {
		if err := parseItem(item, min, max, names, set); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// parseItem reads *, v, a-b, */s, v/s or a-b/s into set.
func parseItem(item string, min, max int, names map[string]int, set []bool) error {
	span, stepText, stepped := strings.Cut(item, "/")
	step := 1
	if stepped {
		s, err := strconv.Atoi(stepText)
		if err != nil || s < 1 {
			return fmt.Errorf("bad step in %q", item)
		}
		step = s
	}
	lo, hi := min, max
	switch {
	case span == "*":
	case strings.Contains(span, "-"):
		a, b, _ := strings.Cut(span, "-")
		var err error
		if lo, err = value(a, min, max, names); err != nil {
			return err
		}
		if hi, err = value(b, min, max, names); err != nil {
			return err
		}
		if lo > hi {
			return fmt.Errorf("range %q runs backwards", span)
		}
	default:
		v, err := value(span, min, max, names)
		if err != nil {
			return err
		}
		lo, hi = v, v
		if stepped {
			hi = max
		}
	}
	for v := lo; v <= hi; v += step {
		set[v] = true
	}
	return nil
}

func value(text string, min, max int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < min || v > max {
		return 0, fmt.Errorf("%q is not a value from %d to %d", text, min, max)
	}
	return v, nil
}

// next returns the first firing strictly after t.
func (c *cronSchedule) next(t time.Time) (time.Time, bool) {
	d := t.UTC().Truncate(day)
	for i := 0; i < maxScanDays; i, d = i+1, d.AddDate(0, 0, 1) {
		if !c.dayMatches(d) {
			continue
		}
		for h, ok := range c.hours {
			if !ok {
				continue
			}
			for m, ok := range c.minutes {
				if fire := d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute); ok && fire.After(t) {
					return fire, true
				}
			}
		}
	}
	return time.Time{}, false
}

func (c *cronSchedule) dayMatches(d time.Time) bool {
	y, month, dom := d.Date()
	if c.years != nil && (y > maxYear || y < minYear || !c.years[y]) {
		return false
	}
	if !c.months[month] {
		return false
	}
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	domOK := c.domAny || c.dom[dom] || (c.domLast && dom == last)
	wd := int(d.Weekday()) + 1
	dowOK := c.dowAny || c.dow[wd]
	for _, w := range c.dowLast {
		dowOK = dowOK || (w == wd && dom+7 > last)
	}
	for _, n := range c.dowNth {
		dowOK = dowOK || (n[0] == wd && (dom-1)/7+1 == n[1])
	}
	return domOK && dowOK
}
